package org.anode.backend.tensorflow;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Backend.BatchNormGradients;
import org.anode.api.Backend.BatchNormResult;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.math.Mean;

/**
 * The SPI's fused kernels on TensorFlow, each one graph run by one session call where the default
 * composition makes one call per primitive: ReLU's backward (mask and product), a solver step's
 * {@code z + Σ cᵢ·kᵢ}, and batch normalization forward and backward. Each graph computes the very
 * operations of the composition in its order (see {@link org.anode.api.Backend}), so results agree
 * to round-off (the conformance suite checks it); what they save is the session runs and the
 * temporaries, which live only inside TensorFlow's executor. ReLU's backward and {@code addScaled}
 * run in the layout their operands are stored in, like every elementwise op; batch norm reads its
 * image channels-last and writes it so (see {@link TfTensor}); per-channel results are plain {@code
 * [C]}.
 */
@SuppressWarnings({"unchecked", "rawtypes"})
final class TfFusedKernels {
  /** NHWC axes of the batch and the plane, over which batch norm reduces per channel. */
  private static final int[] BATCH_AND_PLANE = {0, 1, 2};

  private final TfKernelCache kernels;

  TfFusedKernels(TfKernelCache kernels) {
    this.kernels = kernels;
  }

  /**
   * {@code g · (y > 0)}, the default's mask and product in one graph, in the layout the operands
   * are stored in ({@link TfKernelCache#elementwise}).
   */
  Tensor reluBackward(Tensor y, Tensor g) {
    Class mask = TfKernelCache.type(y.dtype());
    return kernels.elementwise(
        "reluBackward",
        "",
        y.shape(),
        List.of(y, g, 0.0),
        (tf, in) ->
            tf.math.mul(in.get(1), tf.dtypes.cast(tf.math.greater(in.get(0), in.get(2)), mask)));
  }

  /**
   * {@code base + Σ cᵢ·termsᵢ} in the default's order (zero coefficients skipped, a coefficient of
   * one added without a product), in the layout the operands are stored in; the coefficients are
   * fed, so one graph serves every step size.
   */
  Tensor addScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    List<Object> args = new ArrayList<>();
    args.add(base);
    StringBuilder pattern = new StringBuilder();
    for (int i = 0; i < coefficients.length; i++) {
      if (coefficients[i] == 0) {
        continue;
      }
      args.add(terms.get(i));
      boolean one = coefficients[i] == 1;
      pattern.append(one ? '1' : 'c');
      if (!one) {
        args.add(coefficients[i]);
      }
    }
    String kinds = pattern.toString();
    return kernels.elementwise(
        "addScaled",
        kinds,
        base.shape(),
        args,
        (tf, in) -> {
          Operand acc = in.get(0);
          int next = 1;
          for (int k = 0; k < kinds.length(); k++) {
            Operand term = in.get(next++);
            if (kinds.charAt(k) == 'c') {
              term = tf.math.mul(term, in.get(next++));
            }
            acc = tf.math.add(acc, term);
          }
          return kinds.isEmpty() ? tf.identity(acc) : acc;
        });
  }

  /** The default's batch normalization in one graph, over NHWC storage. */
  BatchNormResult batchNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
    int c = x.shape().dim(1);
    List<Tensor> out =
        kernels.runLayout(
            "batchNorm",
            "",
            x.dtype(),
            List.of(x, gamma, beta, eps, -0.5),
            (tf, in) -> {
              Operand xh = in.nhwc(0);
              Operand mean = tf.math.mean(xh, tf.constant(BATCH_AND_PLANE), Mean.keepDims(true));
              Operand centered = tf.math.sub(xh, mean);
              Operand variance =
                  tf.math.mean(
                      tf.math.square(centered), tf.constant(BATCH_AND_PLANE), Mean.keepDims(true));
              Operand invStd = tf.math.pow(tf.math.add(variance, in.nchw(3)), in.nchw(4));
              Operand xhat = tf.math.mul(centered, invStd);
              Operand y =
                  tf.math.add(
                      tf.math.mul(xhat, perChannel(tf, in.nchw(1), c)),
                      perChannel(tf, in.nchw(2), c));
              return List.of(y, flat(tf, mean, c), flat(tf, variance, c));
            },
            new boolean[] {true, false, false});
    return new BatchNormResult(out.get(0), out.get(1), out.get(2));
  }

  /**
   * The default's batch-norm gradients in one graph, computing only those asked for: ∂β = Σ g, ∂γ =
   * Σ g·x̂, ∂x = γ/(M·√(σ² + ε)) · (M·g − ∂β − x̂·∂γ).
   */
  BatchNormGradients batchNormBackward(
      Tensor x,
      Tensor gamma,
      Tensor mean,
      Tensor variance,
      double eps,
      Tensor g,
      boolean input,
      boolean wantGamma,
      boolean wantBeta) {
    Shape s = x.shape();
    int c = s.dim(1);
    double m = (double) s.numel() / c;
    List<Tensor> out =
        kernels.runLayout(
            "batchNormBackward",
            "" + input + wantGamma + wantBeta,
            x.dtype(),
            List.of(x, gamma, mean, variance, g, eps, -0.5, m, 1 / m),
            (tf, in) -> {
              Operand invStd =
                  tf.math.pow(tf.math.add(perChannel(tf, in.nchw(3), c), in.nchw(5)), in.nchw(6));
              Operand xhat =
                  tf.math.mul(tf.math.sub(in.nhwc(0), perChannel(tf, in.nchw(2), c)), invStd);
              Operand gh = in.nhwc(4);
              Operand dBeta =
                  tf.reduceSum(gh, tf.constant(BATCH_AND_PLANE), ReduceSum.keepDims(true));
              Operand dGamma =
                  tf.reduceSum(
                      tf.math.mul(gh, xhat),
                      tf.constant(BATCH_AND_PLANE),
                      ReduceSum.keepDims(true));
              List<Operand<?>> results = new ArrayList<>();
              if (input) {
                Operand coefficient =
                    tf.math.mul(tf.math.mul(perChannel(tf, in.nchw(1), c), invStd), in.nchw(8));
                Operand inner =
                    tf.math.sub(
                        tf.math.sub(tf.math.mul(gh, in.nchw(7)), dBeta), tf.math.mul(xhat, dGamma));
                results.add(tf.math.mul(coefficient, inner));
              }
              if (wantGamma) {
                results.add(flat(tf, dGamma, c));
              }
              if (wantBeta) {
                results.add(flat(tf, dBeta, c));
              }
              return results;
            },
            new boolean[] {input, false, false});
    int k = 0;
    Tensor dx = input ? out.get(k++) : null;
    Tensor dGamma = wantGamma ? out.get(k++) : null;
    Tensor dBeta = wantBeta ? out.get(k) : null;
    return new BatchNormGradients(dx, dGamma, dBeta);
  }

  private static Operand perChannel(Ops tf, Operand v, int c) {
    return tf.reshape(v, tf.constant(new int[] {1, 1, 1, c}));
  }

  private static Operand flat(Ops tf, Operand v, int c) {
    return tf.reshape(v, tf.constant(new int[] {c}));
  }
}
