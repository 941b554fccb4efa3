package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SCALE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SHIFT;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_MEAN;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCALE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SHIFT;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_VARIANCE;
import static org.bytedeco.dnnl.global.dnnl.dnnl_backward;
import static org.bytedeco.dnnl.global.dnnl.dnnl_batch_normalization_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_batch_normalization_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_scale;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_shift;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.Shape;
import org.bytedeco.dnnl.dnnl_batch_normalization_desc_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Float32 batch normalization in training mode on oneDNN's primitive, called directly ({@link
 * OneDnn}), on blocked activations ({@link OneDnn#blockedLayout}): the forward pass computes the
 * batch's mean and biased variance and normalizes in two passes over the input; the backward pass
 * gives the input's, γ's and β's gradients in two more. oneDNN takes ε in single precision.
 */
final class OneDnnBatchNorm {
  private record Key(Shape input, float eps, boolean backward, StorageLayout blocked) {}

  private static final Map<Key, dnnl_primitive> CACHE = new ConcurrentHashMap<>();

  private OneDnnBatchNorm() {}

  /**
   * Whether this class serves batch normalization of {@code x}: float32 NCHW, C in whole blocks.
   */
  static boolean serves(org.anode.api.DType dtype, Shape x) {
    return dtype == org.anode.api.DType.FLOAT32
        && OneDnn.enabled()
        && OneDnn.blockedLayout().fits(x);
  }

  /**
   * {@code y = γ·(x − μ)/√(σ² + ε) + β} with the batch's μ and σ² written to {@code mean} and
   * {@code variance} ({@code [C]}); {@code x} and {@code y} are storage arrays in {@code layout}, a
   * blocked one.
   */
  static void forward(
      INDArray x,
      INDArray gamma,
      INDArray beta,
      double eps,
      Shape shape,
      StorageLayout layout,
      INDArray y,
      INDArray mean,
      INDArray variance) {
    dnnl_primitive p =
        CACHE.computeIfAbsent(
            new Key(shape, (float) eps, false, layout),
            k -> OneDnn.primitive(forwardDesc(k), "batch normalization forward " + k));
    OneDnn.execute(
        p,
        new int[] {
          DNNL_ARG_SRC,
          DNNL_ARG_SCALE,
          DNNL_ARG_SHIFT,
          DNNL_ARG_DST,
          DNNL_ARG_MEAN,
          DNNL_ARG_VARIANCE
        },
        new dnnl_memory[] {
          OneDnn.stored(x, shape, layout),
          OneDnn.vector(gamma, shape.dim(1)),
          OneDnn.vector(beta, shape.dim(1)),
          OneDnn.stored(y, shape, layout),
          OneDnn.vector(mean, shape.dim(1)),
          OneDnn.vector(variance, shape.dim(1))
        },
        "batch normalization forward " + shape);
  }

  /**
   * The gradients of {@link #forward} into {@code gx} ({@code x}, {@code g} and {@code gx} stored
   * in {@code layout}), {@code gGamma}, {@code gBeta}.
   */
  static void backward(
      INDArray x,
      INDArray gamma,
      INDArray mean,
      INDArray variance,
      double eps,
      INDArray g,
      Shape shape,
      StorageLayout layout,
      INDArray gx,
      INDArray gGamma,
      INDArray gBeta) {
    dnnl_primitive p =
        CACHE.computeIfAbsent(
            new Key(shape, (float) eps, true, layout),
            k -> {
              dnnl_batch_normalization_desc_t d = new dnnl_batch_normalization_desc_t();
              dnnl_memory_desc_t data = OneDnn.desc(k.input(), k.blocked());
              OneDnn.check(
                  dnnl_batch_normalization_backward_desc_init(
                      d, dnnl_backward, data, data, k.eps(), dnnl_use_scale | dnnl_use_shift),
                  "batch normalization backward " + k);
              dnnl_primitive_desc pd =
                  OneDnn.primitiveDesc(
                      d,
                      forwardDesc(new Key(k.input(), k.eps(), false, k.blocked())),
                      "batch normalization backward");
              return OneDnn.primitive(pd, "batch normalization backward " + k);
            });
    OneDnn.execute(
        p,
        new int[] {
          DNNL_ARG_SRC,
          DNNL_ARG_MEAN,
          DNNL_ARG_VARIANCE,
          DNNL_ARG_DIFF_DST,
          DNNL_ARG_SCALE,
          DNNL_ARG_SHIFT,
          DNNL_ARG_DIFF_SRC,
          DNNL_ARG_DIFF_SCALE,
          DNNL_ARG_DIFF_SHIFT
        },
        new dnnl_memory[] {
          OneDnn.stored(x, shape, layout),
          OneDnn.vector(mean, shape.dim(1)),
          OneDnn.vector(variance, shape.dim(1)),
          OneDnn.stored(g, shape, layout),
          OneDnn.vector(gamma, shape.dim(1)),
          // oneDNN 2.7 requires a shift argument here too; the gradients do not depend on β, and
          // it is not read: γ's memory stands in.
          OneDnn.vector(gamma, shape.dim(1)),
          OneDnn.stored(gx, shape, layout),
          OneDnn.vector(gGamma, shape.dim(1)),
          OneDnn.vector(gBeta, shape.dim(1))
        },
        "batch normalization backward " + shape);
  }

  private static dnnl_primitive_desc forwardDesc(Key k) {
    dnnl_batch_normalization_desc_t d = new dnnl_batch_normalization_desc_t();
    OneDnn.check(
        dnnl_batch_normalization_forward_desc_init(
            d,
            dnnl_forward_training,
            OneDnn.desc(k.input(), k.blocked()),
            k.eps(),
            dnnl_use_scale | dnnl_use_shift),
        "batch normalization forward " + k);
    return OneDnn.primitiveDesc(d, null, "batch normalization forward");
  }
}
