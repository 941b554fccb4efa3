package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.anode.api.Backend.BatchNormGradients;
import org.anode.api.Backend.BatchNormResult;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;

/**
 * The SPI's fused kernels on libtorch with fewer JNI crossings than their compositions: ReLU's
 * backward as one product with a boolean mask, a solver step's {@code z + Σ cᵢ·kᵢ} accumulated in
 * place, and batch normalization as libtorch's own kernel (its gradients from libtorch's backward
 * of that kernel, like the convolution's). Each composed primitive costs several crossings (the op,
 * reading the result's shape and dtype, freeing temporaries, a 0-d array per scalar); these make
 * one or two per pass and allocate no temporaries anode would see.
 */
final class DjlFusedKernels {
  private final DjlBackend backend;

  DjlFusedKernels(DjlBackend backend) {
    this.backend = backend;
  }

  private static NDArray arr(Tensor t) {
    return DjlBackend.arr(t);
  }

  /**
   * {@code g · (y > 0)}: libtorch multiplies by the boolean mask directly (promoting it to g's
   * dtype, so g·1 and g·0 as in the composition) without the composition's cast of the mask.
   */
  Tensor reluBackward(Tensor y, Tensor g) {
    try (NDArray mask = arr(y).gt(backend.scalars().of(0, y.dtype()))) {
      return backend.wrap(arr(g).mul(mask), g.shape(), g.dtype());
    }
  }

  /**
   * {@code base + Σ cᵢ·termsᵢ} in the composition's order (zero coefficients skipped, one added
   * without a product), the sum accumulated in place in the first partial sum.
   */
  Tensor addScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    NDArray acc = null;
    for (int i = 0; i < coefficients.length; i++) {
      double c = coefficients[i];
      if (c == 0) {
        continue;
      }
      NDArray term = arr(terms.get(i));
      NDArray scaled = c == 1 ? term : term.mul(backend.scalars().of(c, base.dtype()));
      try {
        if (acc == null) {
          acc = arr(base).add(scaled);
        } else {
          acc.addi(scaled);
        }
      } finally {
        if (scaled != term) {
          scaled.close();
        }
      }
    }
    return backend.wrap(acc == null ? arr(base).duplicate() : acc, base.shape(), base.dtype());
  }

  /**
   * libtorch's batch normalization in training mode. Its running estimates, started at 0 with
   * momentum 1, come back as the batch's mean and unbiased variance; the biased one is that times
   * (M − 1)/M (round-off apart from the composition's mean of squares).
   */
  BatchNormResult batchNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
    Shape s = x.shape();
    int c = s.dim(1);
    double m = (double) s.numel() / c;
    DType dtype = x.dtype();
    NDArray mean = backend.manager().zeros(new ai.djl.ndarray.types.Shape(c), DjlBackend.dj(dtype));
    PtNDArray y = null;
    NDArray variance;
    try (NDArray unbiased =
        backend.manager().zeros(new ai.djl.ndarray.types.Shape(c), DjlBackend.dj(dtype))) {
      y =
          JniUtils.batchNorm(
              (PtNDArray) arr(x),
              (PtNDArray) mean,
              (PtNDArray) unbiased,
              (PtNDArray) arr(gamma),
              (PtNDArray) arr(beta),
              true,
              1.0,
              eps);
      variance = unbiased.mul(backend.scalars().of((m - 1) / m, dtype));
    } catch (RuntimeException | Error e) {
      // libtorch refused (or failed): nothing is handed out, so nothing may stay allocated.
      mean.close();
      if (y != null) {
        y.close();
      }
      throw e;
    }
    Shape perChannel = Shape.of(c);
    return new BatchNormResult(
        backend.wrap(y, s, dtype),
        backend.wrap(mean, perChannel, dtype),
        backend.wrap(variance, perChannel, dtype));
  }

  /**
   * The gradients of {@link #batchNorm} from libtorch's backward of its kernel: the kernel is
   * re-run on detached aliases of x and γ that collect gradients, and of a zero β (the gradients do
   * not depend on β), and swept once from {@code g}. The kernel recomputes the batch's mean and
   * variance, so the ones the forward returned are not read.
   */
  BatchNormGradients batchNormBackward(
      Tensor x,
      Tensor gamma,
      double eps,
      Tensor g,
      boolean input,
      boolean wantGamma,
      boolean wantBeta) {
    ai.djl.ndarray.types.Shape perChannel = new ai.djl.ndarray.types.Shape(x.shape().dim(1));
    ai.djl.ndarray.types.DataType dtype = DjlBackend.dj(x.dtype());
    try (NDArray beta = backend.manager().zeros(perChannel, dtype);
        LibtorchGradient gx = new LibtorchGradient(backend, arr(x), input);
        LibtorchGradient gg = new LibtorchGradient(backend, arr(gamma), wantGamma);
        LibtorchGradient gb = new LibtorchGradient(backend, beta, wantBeta);
        NDArray mean = backend.manager().zeros(perChannel, dtype);
        NDArray var = backend.manager().zeros(perChannel, dtype);
        LibtorchGradient.GradMode on = new LibtorchGradient.GradMode()) {
      try (PtNDArray y =
          JniUtils.batchNorm(
              gx.alias, (PtNDArray) mean, (PtNDArray) var, gg.alias, gb.alias, true, 1.0, eps)) {
        JniUtils.backward(y, (PtNDArray) arr(g), false, false);
      }
      return new BatchNormGradients(gx.take(), gg.take(), gb.take());
    }
  }
}
