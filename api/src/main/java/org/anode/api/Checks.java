package org.anode.api;

import java.util.Arrays;

/**
 * The error contract shared by every backend: argument checks that throw {@link
 * IllegalArgumentException} naming the operation, the shapes and the dtypes at fault, so that no
 * mismatch reaches native code. Backends call these before every kernel.
 */
public final class Checks {
  private Checks() {}

  /** Describes a tensor as {@code [2, 3] FLOAT64} for error messages. */
  public static String describe(Tensor t) {
    return t.shape() + " " + t.dtype();
  }

  /** Both tensors must have the same dtype and live on {@code backend}. */
  public static void sameDType(String op, Tensor a, Tensor b) {
    if (a.dtype() != b.dtype()) {
      throw new IllegalArgumentException(
          op
              + ": dtype mismatch between "
              + describe(a)
              + " and "
              + describe(b)
              + " (cast one explicitly)");
    }
  }

  /** The tensor must belong to {@code backend} (tensors never move between backends silently). */
  public static void onBackend(String op, Backend backend, Tensor t) {
    if (t.backend() != backend) {
      throw new IllegalArgumentException(
          op
              + ": tensor "
              + describe(t)
              + " belongs to backend "
              + t.backend().name()
              + ", not "
              + backend.name());
    }
    if (t.isClosed()) {
      throw new IllegalStateException(op + ": tensor " + describe(t) + " is closed");
    }
  }

  /**
   * The shape that {@code a} and {@code b} broadcast to. Broadcasting is explicit: both shapes must
   * have the same rank and each dimension must be equal or 1 in one of them (so {@code [N,C,H,W] +
   * [1,C,1,1]} works, but {@code [C] + [N,C]} must be reshaped first). A rank-0 scalar broadcasts
   * with anything.
   */
  public static Shape broadcast(String op, Tensor a, Tensor b) {
    sameDType(op, a, b);
    return broadcast(op, a.shape(), b.shape(), describe(a), describe(b));
  }

  /** {@link #broadcast(String, Tensor, Tensor)} on bare shapes. */
  public static Shape broadcast(String op, Shape sa, Shape sb) {
    return broadcast(op, sa, sb, sa.toString(), sb.toString());
  }

  private static Shape broadcast(String op, Shape sa, Shape sb, String da, String db) {
    if (sa.equals(sb) || sb.rank() == 0) {
      return sa;
    }
    if (sa.rank() == 0) {
      return sb;
    }
    if (sa.rank() != sb.rank()) {
      throw new IllegalArgumentException(
          op
              + ": shapes "
              + da
              + " and "
              + db
              + " have different ranks; reshape one to broadcast explicitly");
    }
    int[] out = new int[sa.rank()];
    for (int i = 0; i < out.length; i++) {
      int x = sa.dim(i);
      int y = sb.dim(i);
      if (x == y || y == 1) {
        out[i] = x;
      } else if (x == 1) {
        out[i] = y;
      } else {
        throw new IllegalArgumentException(
            op
                + ": shapes "
                + da
                + " and "
                + db
                + " do not broadcast (dimension "
                + i
                + ": "
                + x
                + " vs "
                + y
                + ")");
      }
    }
    return Shape.of(out);
  }

  /** {@code target} must be reachable from {@code from} by explicit broadcasting. */
  public static void broadcastableTo(String op, Shape from, Shape target) {
    boolean ok = from.rank() == 0 || from.rank() == target.rank();
    for (int i = 0; ok && i < from.rank(); i++) {
      ok = from.dim(i) == target.dim(i) || from.dim(i) == 1;
    }
    if (!ok) {
      throw new IllegalArgumentException(
          op + ": shape " + from + " does not broadcast to " + target);
    }
  }

  /** Validates and normalizes reduction axes (each once, in range); empty means all axes. */
  public static int[] axes(String op, Shape shape, int... axes) {
    if (axes.length == 0) {
      int[] all = new int[shape.rank()];
      Arrays.setAll(all, i -> i);
      return all;
    }
    int[] out = new int[axes.length];
    boolean[] seen = new boolean[shape.rank()];
    for (int i = 0; i < axes.length; i++) {
      int a;
      try {
        a = shape.normalizeAxis(axes[i]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(op + ": " + e.getMessage(), e);
      }
      if (seen[a]) {
        throw new IllegalArgumentException(
            op + ": axis " + axes[i] + " given twice in " + Arrays.toString(axes));
      }
      seen[a] = true;
      out[i] = a;
    }
    Arrays.sort(out);
    return out;
  }

  /** The shape of a reduction of {@code shape} over {@code axes}. */
  public static Shape reducedShape(Shape shape, int[] axes, boolean keepDims) {
    boolean[] reduce = new boolean[shape.rank()];
    for (int a : axes) {
      reduce[a] = true;
    }
    int[] out = new int[keepDims ? shape.rank() : shape.rank() - axes.length];
    for (int i = 0, j = 0; i < shape.rank(); i++) {
      if (!reduce[i]) {
        out[j++] = shape.dim(i);
      } else if (keepDims) {
        out[j++] = 1;
      }
    }
    return Shape.of(out);
  }

  /** The array length must match the shape's element count. */
  public static void dataLength(String op, int length, Shape shape) {
    if (length != shape.numel()) {
      throw new IllegalArgumentException(
          op + ": " + length + " values given for shape " + shape + " of " + shape.numel());
    }
  }

  /** A reshape must keep the number of elements. */
  public static void reshape(Tensor x, Shape shape) {
    if (x.shape().numel() != shape.numel()) {
      throw new IllegalArgumentException(
          "reshape: cannot reshape "
              + describe(x)
              + " ("
              + x.shape().numel()
              + " elements) to "
              + shape
              + " ("
              + shape.numel()
              + " elements)");
    }
  }

  /** A permutation must list every axis exactly once. */
  public static void permutation(Tensor x, int... axes) {
    boolean[] seen = new boolean[x.shape().rank()];
    boolean ok = axes.length == seen.length;
    for (int i = 0; ok && i < axes.length; i++) {
      ok = axes[i] >= 0 && axes[i] < seen.length && !seen[axes[i]];
      if (ok) {
        seen[axes[i]] = true;
      }
    }
    if (!ok) {
      throw new IllegalArgumentException(
          "permute: "
              + Arrays.toString(axes)
              + " is not a permutation of the axes of "
              + describe(x));
    }
  }

  /** 2-D matrix product {@code [m,k] × [k,n]}. */
  public static Shape matmul(Tensor a, Tensor b) {
    sameDType("matmul", a, b);
    if (a.shape().rank() != 2 || b.shape().rank() != 2 || a.shape().dim(1) != b.shape().dim(0)) {
      throw new IllegalArgumentException(
          "matmul: shapes "
              + describe(a)
              + " and "
              + describe(b)
              + " are not [m,k] and [k,n] matrices");
    }
    return Shape.of(a.shape().dim(0), b.shape().dim(1));
  }

  /**
   * Parts of a concatenation: at least one, one dtype, equal shapes except along {@code axis}.
   * Returns the output shape.
   */
  public static Shape concat(java.util.List<Tensor> parts, int axis) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("concat: no tensors given");
    }
    Tensor first = parts.get(0);
    int ax = first.shape().normalizeAxis(axis);
    int total = 0;
    for (int i = 0; i < parts.size(); i++) {
      Tensor p = parts.get(i);
      sameDType("concat", first, p);
      boolean ok = p.shape().rank() == first.shape().rank();
      for (int d = 0; ok && d < first.shape().rank(); d++) {
        ok = d == ax || p.shape().dim(d) == first.shape().dim(d);
      }
      if (!ok) {
        throw new IllegalArgumentException(
            "concat: along axis "
                + axis
                + ", part "
                + i
                + " "
                + describe(p)
                + " does not match part 0 "
                + describe(first));
      }
      total += p.shape().dim(ax);
    }
    return first.shape().with(ax, total);
  }

  /** A non-empty range {@code [start, end)} inside {@code axis} of {@code x}; the output shape. */
  public static Shape slice(Tensor x, int axis, int start, int end) {
    int ax = x.shape().normalizeAxis(axis);
    if (start < 0 || end > x.shape().dim(ax) || start >= end) {
      throw new IllegalArgumentException(
          "slice: range ["
              + start
              + ", "
              + end
              + ") is empty or outside axis "
              + axis
              + " of "
              + describe(x));
    }
    return x.shape().with(ax, end - start);
  }

  /** Input, weight and optional bias {@code [out]} of a convolution agree in dtype and shape. */
  public static void convolution(String op, Tensor x, Tensor w, Tensor bias) {
    sameDType(op, x, w);
    if (bias != null) {
      sameDType(op, x, bias);
      if (bias.shape().rank() != 1 || bias.shape().dim(0) != w.shape().dim(0)) {
        throw new IllegalArgumentException(
            op
                + ": bias "
                + describe(bias)
                + " must be ["
                + w.shape().dim(0)
                + "] for weight "
                + describe(w));
      }
    }
  }

  /**
   * The arguments of {@link Backend#batchNorm}: NCHW {@code x} and two per-channel tensors {@code
   * [C]} of its dtype.
   */
  public static void batchNorm(String op, Tensor x, Tensor a, Tensor b) {
    if (x.shape().rank() != 4) {
      throw new IllegalArgumentException(op + ": input " + describe(x) + " must be rank 4 (NCHW)");
    }
    int c = x.shape().dim(1);
    for (Tensor t : new Tensor[] {a, b}) {
      sameDType(op, x, t);
      if (t.shape().rank() != 1 || t.shape().dim(0) != c) {
        throw new IllegalArgumentException(
            op + ": " + describe(t) + " must be [" + c + "] for input " + describe(x));
      }
    }
  }

  /**
   * The arguments of {@link Backend#addScaled}: one coefficient per term, every term of {@code
   * base}'s shape and dtype.
   */
  public static void addScaled(Tensor base, double[] coefficients, java.util.List<Tensor> terms) {
    if (coefficients.length != terms.size()) {
      throw new IllegalArgumentException(
          "addScaled: " + coefficients.length + " coefficients for " + terms.size() + " terms");
    }
    for (Tensor t : terms) {
      sameDType("addScaled", base, t);
      if (!t.shape().equals(base.shape())) {
        throw new IllegalArgumentException(
            "addScaled: term " + describe(t) + " does not match the base " + describe(base));
      }
    }
  }

  /** An upstream gradient must have the shape of the output it belongs to. */
  public static void gradientShape(String op, Tensor gradient, Shape output) {
    if (!gradient.shape().equals(output)) {
      throw new IllegalArgumentException(
          op + ": gradient " + describe(gradient) + " does not match the output shape " + output);
    }
  }

  /**
   * The arguments of a convolution's backward kernels: input, weight and upstream gradient in one
   * dtype, the gradient shaped like the output. Returns the output shape.
   */
  public static Shape convolutionGradient(
      String op, Shape input, Tensor w, Tensor gradOut, Conv2dSpec spec) {
    sameDType(op, gradOut, w);
    Shape out = spec.outputShape(input, w.shape());
    gradientShape(op, gradOut, out);
    return out;
  }
}
