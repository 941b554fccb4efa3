package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_FROM;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_TO;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_auto;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_backward_data_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_backward_weights_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_equal;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_get_size;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_impl_info_str;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_weights_md;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.bytedeco.dnnl.dnnl_convolution_desc_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Float32 convolutions of the ND4J backend on oneDNN's primitives, called directly ({@link
 * OneDnn}): forward (with bias), backward data and backward weights, each only when asked for, on
 * activations in oneDNN's blocked layout for this CPU ({@link OneDnn#blockedLayout}) read and
 * written where they lie. Weights stay OIHW in anode; oneDNN's blocked copy of them (~150 KiB for
 * 64×64×3×3) is made per call by a cached reorder. Primitives are created once per shape and kept:
 * oneDNN's JIT kernels are costly to build.
 *
 * <p>The algorithm is oneDNN's choice ({@code convolution_auto}): for 3×3 stride-1 convolutions on
 * AVX-512 it picks Winograd F(4×4, 3×3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", CVPR 2016), which rounds differently from direct convolution (float32 results differ
 * by ~1e-6 relative). The system property {@value #ALGORITHM}{@code =direct} asks for direct
 * convolution.
 */
final class OneDnnConvolutions {
  static final String ALGORITHM = "anode.nd4j.convolutionAlgorithm";

  /** What a cached primitive computes. */
  private enum Kind {
    FORWARD,
    BACKWARD_DATA,
    BACKWARD_WEIGHTS
  }

  /**
   * A primitive's identity; {@code blocked} is the layout of its blocked operands, {@code
   * algorithm} the one asked of oneDNN ({@link #ALGORITHM}).
   */
  private record Key(
      Kind kind,
      Shape input,
      Shape weight,
      Conv2dSpec spec,
      boolean bias,
      StorageLayout blocked,
      int algorithm) {
    Key(
        Kind kind,
        Shape input,
        Shape weight,
        Conv2dSpec spec,
        boolean bias,
        StorageLayout blocked) {
      this(kind, input, weight, spec, bias, blocked, requestedAlgorithm());
    }
  }

  /**
   * A primitive, the weights layout it uses, the reorder to or from anode's OIHW (or null), and the
   * name of the implementation oneDNN chose ({@code jit_wino_4x3:avx512_core}, {@code
   * jit:avx2}...).
   */
  private record Compiled(
      dnnl_primitive primitive,
      dnnl_memory_desc_t weights,
      dnnl_primitive reorder,
      String implementation) {}

  private static final Map<Key, Compiled> CACHE = new ConcurrentHashMap<>();

  private OneDnnConvolutions() {}

  /**
   * Whether this class serves a convolution: oneDNN loaded and enabled, float32, one group, output
   * channels in whole blocks (of 8 or 16, {@link OneDnn#blockedLayout}), input channels too or
   * fewer than one block (a network's first layer, such as an RGB stem: {@link #sourceLayout}), and
   * an output size oneDNN's formula gives ({@link OneDnnGeometry#padRight}).
   */
  static boolean serves(DType dtype, Shape x, Shape w, Conv2dSpec spec) {
    if (dtype != DType.FLOAT32 || spec.groups() != 1 || !OneDnn.enabled()) {
      return false;
    }
    int block = OneDnn.blockedLayout().block();
    if ((x.dim(1) % block != 0 && x.dim(1) > block) || w.dim(0) % block != 0) {
      return false;
    }
    Shape y = spec.outputShape(x, w);
    return OneDnnGeometry.padRight(
                    x.dim(2), y.dim(2), w.dim(2), spec.strideH(), spec.dilationH(), spec.padH())
                + spec.strideH()
            > 0
        && OneDnnGeometry.padRight(
                    x.dim(3), y.dim(3), w.dim(3), spec.strideW(), spec.dilationW(), spec.padW())
                + spec.strideW()
            > 0;
  }

  /**
   * The layout of a served convolution's input and input gradient: {@code blocked}, or plain NCHW
   * for fewer than one block of input channels, which oneDNN's first-layer kernels read as they are
   * (a blocked copy would pad 3 channels to 8 or 16).
   */
  static StorageLayout sourceLayout(Shape x, StorageLayout blocked) {
    return blocked.fits(x) ? blocked : StorageLayout.NCHW;
  }

  /**
   * {@code y = conv(x, w) + b}, or its ReLU when {@code relu}: {@code x} is stored in its {@link
   * #sourceLayout}, {@code y} in {@code blocked}, {@code w} is C-ordered OIHW, {@code b} is {@code
   * [O]} or null. The ReLU is libnd4j's, in place over {@code y} as the convolution left it, not
   * oneDNN's eltwise post-op: that one is {@code max(x, 0)}, which turns NaN into 0 where ReLU on
   * every backend keeps it, so a NaN weight or input would vanish inside the fused kernel.
   */
  static void forward(
      INDArray x,
      INDArray w,
      INDArray b,
      Shape xShape,
      Shape wShape,
      Conv2dSpec s,
      boolean relu,
      StorageLayout blocked,
      INDArray y) {
    Key key = new Key(Kind.FORWARD, xShape, wShape, s, b != null, blocked);
    Compiled c = CACHE.computeIfAbsent(key, k -> compile(forwardDesc(k), k));
    String what = "convolution forward " + xShape + " * " + wShape;
    try (Nd4jScratch scratch = new Nd4jScratch()) {
      dnnl_memory wm = weightsIn(c, w, wShape, scratch);
      dnnl_memory xm = OneDnn.stored(x, xShape, sourceLayout(xShape, key.blocked()));
      dnnl_memory ym = OneDnn.stored(y, s.outputShape(xShape, wShape), key.blocked());
      if (b == null) {
        OneDnn.execute(
            c.primitive(),
            new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
            new dnnl_memory[] {xm, wm, ym},
            what);
      } else {
        dnnl_memory bm = OneDnn.vector(b.isView() ? scratch.copy(b) : b, wShape.dim(0));
        OneDnn.execute(
            c.primitive(),
            new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST},
            new dnnl_memory[] {xm, wm, bm, ym},
            what);
      }
    }
    if (relu) {
      Nd4j.exec(new RectifiedLinear(y, y, 0.0));
    }
  }

  /**
   * {@code gx = ∂(conv)/∂x · gy} ({@code gy} in {@code blocked}, {@code gx} in the input's {@link
   * #sourceLayout}; {@code w} C-ordered OIHW).
   */
  static void backwardData(
      INDArray gy,
      INDArray w,
      Shape xShape,
      Shape wShape,
      Conv2dSpec s,
      StorageLayout blocked,
      INDArray gx) {
    Key key = new Key(Kind.BACKWARD_DATA, xShape, wShape, s, false, blocked);
    Compiled c =
        CACHE.computeIfAbsent(
            key,
            k -> {
              OneDnnGeometry g = new OneDnnGeometry(k.input(), k.weight(), k.spec(), k.blocked());
              dnnl_convolution_desc_t d = new dnnl_convolution_desc_t();
              OneDnn.check(
                  dnnl_dilated_convolution_backward_data_desc_init(
                      d,
                      k.algorithm(),
                      g.src,
                      g.weightsAny,
                      g.dst,
                      g.strides,
                      g.dilation,
                      g.padL,
                      g.padR),
                  "convolution backward data " + k);
              return compile(OneDnn.primitiveDesc(d, forwardDesc(k), "convolution"), k);
            });
    try (Nd4jScratch scratch = new Nd4jScratch()) {
      OneDnn.execute(
          c.primitive(),
          new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
          new dnnl_memory[] {
            OneDnn.stored(gy, s.outputShape(xShape, wShape), key.blocked()),
            weightsIn(c, w, wShape, scratch),
            OneDnn.stored(gx, xShape, sourceLayout(xShape, key.blocked()))
          },
          "convolution backward data " + xShape + " * " + wShape);
    }
  }

  /**
   * {@code gw = ∂(conv)/∂w · gy} into C-ordered OIHW {@code gw} ({@code x} in its {@link
   * #sourceLayout}, {@code gy} in {@code blocked}), by oneDNN's backward-weights primitive.
   */
  static void backwardWeights(
      INDArray x,
      INDArray gy,
      Shape xShape,
      Shape wShape,
      Conv2dSpec s,
      StorageLayout blocked,
      INDArray gw) {
    Key key = new Key(Kind.BACKWARD_WEIGHTS, xShape, wShape, s, false, blocked);
    Compiled c =
        CACHE.computeIfAbsent(
            key,
            k -> {
              OneDnnGeometry g = new OneDnnGeometry(k.input(), k.weight(), k.spec(), k.blocked());
              dnnl_convolution_desc_t d = new dnnl_convolution_desc_t();
              OneDnn.check(
                  dnnl_dilated_convolution_backward_weights_desc_init(
                      d,
                      k.algorithm(),
                      g.src,
                      g.weightsAny,
                      null,
                      g.dst,
                      g.strides,
                      g.dilation,
                      g.padL,
                      g.padR),
                  "convolution backward weights " + k);
              return compile(OneDnn.primitiveDesc(d, forwardDesc(k), "convolution"), k);
            });
    String what = "convolution backward weights " + xShape + " * " + wShape;
    dnnl_memory xm = OneDnn.stored(x, xShape, sourceLayout(xShape, key.blocked()));
    dnnl_memory gym = OneDnn.stored(gy, s.outputShape(xShape, wShape), key.blocked());
    if (c.reorder() == null) {
      OneDnn.execute(
          c.primitive(),
          new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS},
          new dnnl_memory[] {xm, gym, OneDnn.memory(c.weights(), OneDnn.address(gw))},
          what);
      return;
    }
    try (Nd4jScratch scratch = new Nd4jScratch()) {
      INDArray inner = scratch.get(DType.FLOAT32, floats(c.weights()));
      OneDnn.execute(
          c.primitive(),
          new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS},
          new dnnl_memory[] {xm, gym, OneDnn.memory(c.weights(), OneDnn.address(inner))},
          what);
      OneDnn.execute(
          c.reorder(),
          new int[] {DNNL_ARG_FROM, DNNL_ARG_TO},
          new dnnl_memory[] {
            OneDnn.memory(c.weights(), OneDnn.address(inner)),
            OneDnn.memory(oihw(wShape), OneDnn.address(gw))
          },
          what + " (reorder to OIHW)");
    }
  }

  static int requestedAlgorithm() {
    return "direct".equalsIgnoreCase(System.getProperty(ALGORITHM))
        ? dnnl_convolution_direct
        : dnnl_convolution_auto;
  }

  private static dnnl_primitive_desc forwardDesc(Key k) {
    OneDnnGeometry g = new OneDnnGeometry(k.input(), k.weight(), k.spec(), k.blocked());
    dnnl_memory_desc_t bias =
        k.bias() ? OneDnn.desc(new long[] {k.weight().dim(0)}, new long[] {1}) : null;
    dnnl_convolution_desc_t d = new dnnl_convolution_desc_t();
    OneDnn.check(
        dnnl_dilated_convolution_forward_desc_init(
            d,
            dnnl_forward_training,
            k.algorithm(),
            g.src,
            g.weightsAny,
            bias,
            g.dst,
            g.strides,
            g.dilation,
            g.padL,
            g.padR),
        "convolution forward " + k);
    return OneDnn.primitiveDesc(d, null, "convolution");
  }

  /**
   * The primitive of {@code pd} and the reorder between anode's OIHW weights and the layout oneDNN
   * chose: into it for the forward and backward-data primitives, out of it for backward weights.
   */
  private static Compiled compile(dnnl_primitive_desc pd, Key k) {
    dnnl_primitive p = OneDnn.primitive(pd, k.toString());
    boolean out = k.kind() == Kind.BACKWARD_WEIGHTS;
    // Points into pd, which is never destroyed: primitives live as long as the process.
    dnnl_memory_desc_t chosen =
        dnnl_primitive_desc_query_md(
            pd, out ? dnnl_query_diff_weights_md : dnnl_query_weights_md, 0);
    dnnl_memory_desc_t plain = oihw(k.weight());
    String implementation = implementation(pd);
    if (dnnl_memory_desc_equal(chosen, plain) != 0) {
      return new Compiled(p, chosen, null, implementation);
    }
    return new Compiled(
        p,
        chosen,
        out ? OneDnn.reorderPrimitive(chosen, plain) : OneDnn.reorderPrimitive(plain, chosen),
        implementation);
  }

  /** The name of the implementation behind {@code pd}, as oneDNN's verbose mode prints it. */
  private static String implementation(dnnl_primitive_desc pd) {
    try (PointerPointer<BytePointer> name = new PointerPointer<>(1)) {
      OneDnn.check(
          dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, name),
          "dnnl_primitive_desc_query(impl_info_str)");
      return name.get(BytePointer.class, 0).getString();
    }
  }

  /**
   * The convolutions compiled so far, one line each: what they compute, on which shapes, by which
   * oneDNN implementation (for reports and tests that say which kernels ran).
   */
  static java.util.List<String> implementations() {
    return CACHE.entrySet().stream()
        .map(
            e ->
                e.getKey().kind()
                    + " "
                    + e.getKey().input()
                    + " * "
                    + e.getKey().weight()
                    + " "
                    + e.getKey().spec()
                    + " "
                    + e.getKey().blocked()
                    + ": "
                    + e.getValue().implementation())
        .sorted()
        .toList();
  }

  /** The descriptor of C-ordered (OIHW) weights of {@code weight}. */
  static dnnl_memory_desc_t oihw(Shape weight) {
    long[] strides = new long[weight.rank()];
    long step = 1;
    for (int i = weight.rank() - 1; i >= 0; i--) {
      strides[i] = step;
      step *= weight.dim(i);
    }
    return OneDnn.desc(weight.dimsAsLong(), strides);
  }

  /** The weights memory a primitive reads: anode's own, or a blocked copy made in scratch. */
  private static dnnl_memory weightsIn(Compiled c, INDArray w, Shape wShape, Nd4jScratch scratch) {
    INDArray plain = w.isView() ? scratch.copy(w) : w;
    dnnl_memory user = OneDnn.memory(oihw(wShape), OneDnn.address(plain));
    if (c.reorder() == null) {
      return user;
    }
    INDArray inner = scratch.get(DType.FLOAT32, floats(c.weights()));
    OneDnn.execute(
        c.reorder(),
        new int[] {DNNL_ARG_FROM, DNNL_ARG_TO},
        new dnnl_memory[] {user, OneDnn.memory(c.weights(), OneDnn.address(inner))},
        "weights reorder to oneDNN's layout");
    return OneDnn.memory(c.weights(), OneDnn.address(inner));
  }

  private static Shape floats(dnnl_memory_desc_t md) {
    return Shape.of(Math.toIntExact(dnnl_memory_desc_get_size(md) / Float.BYTES));
  }
}
