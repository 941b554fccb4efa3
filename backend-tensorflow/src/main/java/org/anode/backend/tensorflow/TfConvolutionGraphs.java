package org.anode.backend.tensorflow;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Conv2dSpec;
import org.anode.api.Shape;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Split;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.nn.Conv2d;
import org.tensorflow.op.nn.Conv2dBackpropFilter;
import org.tensorflow.op.nn.Conv2dBackpropInput;

/**
 * The graphs of the TensorFlow backend's convolutions, as static builders over {@link Ops}:
 * activations and their gradients NHWC (TensorFlow's CPU kernels; the caller converts, see {@link
 * TfInputs}), weights OIHW at the edges and HWIO inside, channel groups as per-group convolutions
 * joined along channels, and dilation as a zero-stuffed kernel (its gradient gathered back), which
 * TensorFlow's CPU kernels do not take directly.
 */
final class TfConvolutionGraphs {
  private TfConvolutionGraphs() {}

  static final int[] NCHW_TO_NHWC = {0, 2, 3, 1};
  static final int[] NHWC_TO_NCHW = {0, 3, 1, 2};
  static final int[] OIHW_TO_HWIO = {2, 3, 1, 0};
  static final int[] HWIO_TO_OIHW = {3, 2, 0, 1};

  static List<Long> strides(Conv2dSpec s) {
    return TfBackend.longs(1, s.strideH(), s.strideW(), 1);
  }

  static List<Long> dilations(Conv2dSpec s) {
    return TfBackend.longs(1, 1, 1, 1); // dilation is carried by the kernel: see dilateKernel
  }

  /**
   * TensorFlow's CPU convolution gradients reject dilation, so a dilated convolution runs as an
   * ordinary one with a dilated kernel: {@code [kH, kW, I, O]} with {@code d − 1} zeros between
   * taps, built by padding {@code [kH, 1, kW, 1, I, O]} to {@code [kH, dH, kW, dW, I, O]}. Exact.
   */
  static Operand dilateKernel(Ops tf, Operand w, Shape oihw, Conv2dSpec s, Operand zero) {
    int kh = oihw.dim(2);
    int kw = oihw.dim(3);
    int i = oihw.dim(1);
    int o = oihw.dim(0);
    int dh = s.dilationH();
    int dw = s.dilationW();
    Operand r = tf.reshape(w, tf.constant(new int[] {kh, 1, kw, 1, i, o}));
    int[][] pad = {{0, 0}, {0, dh - 1}, {0, 0}, {0, dw - 1}, {0, 0}, {0, 0}};
    Operand p = tf.pad(r, tf.constant(pad), zero);
    Operand flat = tf.reshape(p, tf.constant(new int[] {kh * dh, kw * dw, i, o}));
    return tf.slice(
        flat,
        tf.constant(new int[] {0, 0, 0, 0}),
        tf.constant(new int[] {(kh - 1) * dh + 1, (kw - 1) * dw + 1, i, o}));
  }

  /** The gradient of the taps of a kernel from the gradient of its dilated form. */
  static Operand undilateGradient(Ops tf, Operand g, Shape oihw, Conv2dSpec s, Operand zero) {
    int kh = oihw.dim(2);
    int kw = oihw.dim(3);
    int i = oihw.dim(1);
    int o = oihw.dim(0);
    int dh = s.dilationH();
    int dw = s.dilationW();
    int[][] pad = {{0, dh - 1}, {0, dw - 1}, {0, 0}, {0, 0}};
    Operand full = tf.pad(g, tf.constant(pad), zero);
    Operand r = tf.reshape(full, tf.constant(new int[] {kh, dh, kw, dw, i, o}));
    Operand taps =
        tf.slice(
            r,
            tf.constant(new int[] {0, 0, 0, 0, 0, 0}),
            tf.constant(new int[] {kh, 1, kw, 1, i, o}));
    return tf.reshape(taps, tf.constant(new int[] {kh, kw, i, o}));
  }

  static boolean dilated(Conv2dSpec s) {
    return s.dilationH() > 1 || s.dilationW() > 1;
  }

  /** Splits an NHWC (or HWIO) operand into {@code g} parts along its last axis. */
  static List<Operand> groups(Ops tf, Operand x, int g) {
    if (g == 1) {
      return List.of(x);
    }
    Split split = tf.split(tf.constant(3), x, (long) g);
    return new ArrayList<>(split.output());
  }

  static Operand joinGroups(Ops tf, List<Operand> parts) {
    return parts.size() == 1 ? parts.get(0) : tf.concat((List) parts, tf.constant(3));
  }

  /**
   * The convolution of the NHWC input {@code xh} with the OIHW weight {@code w}, NHWC, plus the
   * bias {@code bias} (null for none) along the channels.
   */
  static Operand forward(
      Ops tf,
      Operand xh,
      Operand w,
      Operand bias,
      Shape inputShape,
      Shape weightShape,
      Conv2dSpec spec,
      Operand zero) {
    int g = spec.groups();
    List<Operand> xs = groups(tf, xh, g);
    Operand wh = TfBackend.transpose(tf, w, OIHW_TO_HWIO);
    if (dilated(spec)) {
      wh = dilateKernel(tf, wh, weightShape, spec, zero);
    }
    List<Operand> ws = groups(tf, wh, g);
    TfPadding padding = TfPadding.of(inputShape, weightShape, spec);
    List<Conv2d.Options> options = new ArrayList<>();
    options.add(Conv2d.dilations(dilations(spec)));
    options.add(Conv2d.dataFormat("NHWC"));
    if (padding.isExplicit()) {
      options.add(Conv2d.explicitPaddings(padding.explicit()));
    }
    List<Operand> ys = new ArrayList<>();
    for (int i = 0; i < g; i++) {
      ys.add(
          tf.nn.conv2d(
              xs.get(i),
              ws.get(i),
              strides(spec),
              padding.scheme(),
              options.toArray(Conv2d.Options[]::new)));
    }
    Operand y = joinGroups(tf, ys);
    if (bias != null) {
      y = tf.math.add(y, tf.reshape(bias, tf.constant(new int[] {1, 1, 1, weightShape.dim(0)})));
    }
    return y;
  }

  /**
   * The input gradient, NHWC, from the NHWC upstream gradient {@code gh} and OIHW weight {@code w}.
   */
  static Operand inputGradient(
      Ops tf,
      Operand gh,
      Operand w,
      Shape weightShape,
      Shape inputShape,
      Conv2dSpec spec,
      Operand zero) {
    int g = spec.groups();
    int[] sizes = {inputShape.dim(0), inputShape.dim(2), inputShape.dim(3), inputShape.dim(1) / g};
    Operand wh = TfBackend.transpose(tf, w, OIHW_TO_HWIO);
    if (dilated(spec)) {
      wh = dilateKernel(tf, wh, weightShape, spec, zero);
    }
    List<Operand> gs = groups(tf, gh, g);
    List<Operand> ws = groups(tf, wh, g);
    List<Operand> out = new ArrayList<>();
    TfPadding padding = TfPadding.of(inputShape, weightShape, spec);
    List<Conv2dBackpropInput.Options> options = new ArrayList<>();
    options.add(Conv2dBackpropInput.dilations(dilations(spec)));
    options.add(Conv2dBackpropInput.dataFormat("NHWC"));
    if (padding.isExplicit()) {
      options.add(Conv2dBackpropInput.explicitPaddings(padding.explicit()));
    }
    for (int i = 0; i < g; i++) {
      out.add(
          tf.nn.conv2dBackpropInput(
              tf.constant(sizes),
              ws.get(i),
              gs.get(i),
              strides(spec),
              padding.scheme(),
              options.toArray(Conv2dBackpropInput.Options[]::new)));
    }
    return joinGroups(tf, out);
  }

  /**
   * The weight gradient, OIHW, from NHWC input {@code xh} and upstream gradient {@code gh}: by
   * {@code Conv2DBackpropFilter}, except for a strided 1×1 kernel ({@link #stridedPointwise}).
   */
  static Operand weightGradient(
      Ops tf,
      Operand xh,
      Operand gh,
      Shape inputShape,
      Shape weightShape,
      Conv2dSpec spec,
      Operand zero) {
    if (stridedPointwise(weightShape, spec)) {
      return pointwiseWeightGradient(tf, xh, gh, inputShape, weightShape, spec, zero);
    }
    int g = spec.groups();
    int[] sizes = {
      (weightShape.dim(2) - 1) * spec.dilationH() + 1,
      (weightShape.dim(3) - 1) * spec.dilationW() + 1,
      weightShape.dim(1),
      weightShape.dim(0) / g
    };
    List<Operand> xs = groups(tf, xh, g);
    List<Operand> gs = groups(tf, gh, g);
    List<Operand> out = new ArrayList<>();
    TfPadding padding = TfPadding.of(inputShape, weightShape, spec);
    List<Conv2dBackpropFilter.Options> options = new ArrayList<>();
    options.add(Conv2dBackpropFilter.dilations(dilations(spec)));
    options.add(Conv2dBackpropFilter.dataFormat("NHWC"));
    if (padding.isExplicit()) {
      options.add(Conv2dBackpropFilter.explicitPaddings(padding.explicit()));
    }
    for (int i = 0; i < g; i++) {
      out.add(
          tf.nn.conv2dBackpropFilter(
              xs.get(i),
              tf.constant(sizes),
              gs.get(i),
              strides(spec),
              padding.scheme(),
              options.toArray(Conv2dBackpropFilter.Options[]::new)));
    }
    Operand gw = joinGroups(tf, out);
    if (dilated(spec)) {
      gw = undilateGradient(tf, gw, weightShape, spec, zero);
    }
    return TfBackend.transpose(tf, gw, HWIO_TO_OIHW);
  }

  /**
   * Whether the weight gradient is a 1×1 kernel's with a stride above 1, which TensorFlow 2.18's
   * oneDNN (3.5) computes with {@code jit_1x1} by first gathering the strided input into a
   * per-thread workspace ("reduce to unit stride"); for NHWC input with fewer channels than one
   * register block (16 with AVX-512, 8 with AVX2) it indexes that workspace by the block rather
   * than by the channel count and writes past it (oneDNN issue 6035): heap corruption, "double free
   * or corruption" or "corrupted size vs. prev_size", on ODE-ResNet's first shortcut at width 0.125
   * (8 → 16 channels). Such gradients are computed by {@link #pointwiseWeightGradient}.
   */
  static boolean stridedPointwise(Shape weightShape, Conv2dSpec spec) {
    return weightShape.dim(2) == 1
        && weightShape.dim(3) == 1
        && (spec.strideH() > 1 || spec.strideW() > 1);
  }

  /**
   * The weight gradient of a 1×1 kernel as a matrix product: {@code gw[c, o] = Σ_{n,i,j} x[n, i·s −
   * p, j·s − p, c] · g[n, i, j, o]}, the input sampled at the rows and columns the kernel reads
   * (zero in the padding) by a strided slice, then {@code xᵀ · g} over the {@code N·H'·W'}
   * positions per group. The same sums as {@code Conv2DBackpropFilter}, without its strided 1×1
   * kernel ({@link #stridedPointwise}).
   */
  static Operand pointwiseWeightGradient(
      Ops tf,
      Operand xh,
      Operand gh,
      Shape inputShape,
      Shape weightShape,
      Conv2dSpec spec,
      Operand zero) {
    Shape out = spec.outputShape(inputShape, weightShape);
    int n = inputShape.dim(0);
    int c = inputShape.dim(1);
    int rows = (out.dim(2) - 1) * spec.strideH() + 1;
    int cols = (out.dim(3) - 1) * spec.strideW() + 1;
    int below = Math.max(0, rows - spec.padH() - inputShape.dim(2));
    int right = Math.max(0, cols - spec.padW() - inputShape.dim(3));
    Operand padded = xh;
    if (spec.padH() > 0 || spec.padW() > 0 || below > 0 || right > 0) {
      int[][] pad = {{0, 0}, {spec.padH(), below}, {spec.padW(), right}, {0, 0}};
      padded = tf.pad(xh, tf.constant(pad), zero);
    }
    Operand sampled =
        tf.stridedSlice(
            padded,
            tf.constant(new int[] {0, 0, 0, 0}),
            tf.constant(new int[] {n, rows, cols, c}),
            tf.constant(new int[] {1, spec.strideH(), spec.strideW(), 1}));
    int g = spec.groups();
    int perGroupIn = c / g;
    int perGroupOut = weightShape.dim(0) / g;
    List<Operand> xs = groups(tf, sampled, g);
    List<Operand> gs = groups(tf, gh, g);
    List<Operand> parts = new ArrayList<>();
    for (int i = 0; i < g; i++) {
      Operand x2 = tf.reshape(xs.get(i), tf.constant(new int[] {-1, perGroupIn}));
      Operand g2 = tf.reshape(gs.get(i), tf.constant(new int[] {-1, perGroupOut}));
      Operand gw = tf.linalg.matMul(x2, g2, MatMul.transposeA(true));
      parts.add(tf.reshape(gw, tf.constant(new int[] {1, 1, perGroupIn, perGroupOut})));
    }
    return TfBackend.transpose(tf, joinGroups(tf, parts), HWIO_TO_OIHW);
  }
}
