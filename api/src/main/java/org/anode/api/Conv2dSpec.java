package org.anode.api;

/**
 * Geometry of a 2-D convolution over NCHW input with OIHW weights {@code [out, in/groups, kH, kW]}:
 * stride, zero padding (added on both sides of each spatial axis, so a 1×3 kernel with padding (0,
 * 1) keeps the size), dilation and channel groups.
 */
public record Conv2dSpec(
    int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups) {

  public Conv2dSpec {
    if (strideH < 1 || strideW < 1 || dilationH < 1 || dilationW < 1 || groups < 1) {
      throw new IllegalArgumentException(
          "Conv2dSpec: stride, dilation and groups must be >= 1, got " + this);
    }
    if (padH < 0 || padW < 0) {
      throw new IllegalArgumentException("Conv2dSpec: padding must be >= 0, got " + this);
    }
  }

  /** Stride 1, no padding, no dilation, one group. */
  public static Conv2dSpec defaults() {
    return new Conv2dSpec(1, 1, 0, 0, 1, 1, 1);
  }

  /** Same stride and padding on both spatial axes, no dilation, one group. */
  public static Conv2dSpec of(int stride, int padding) {
    return new Conv2dSpec(stride, stride, padding, padding, 1, 1, 1);
  }

  public Conv2dSpec withStride(int h, int w) {
    return new Conv2dSpec(h, w, padH, padW, dilationH, dilationW, groups);
  }

  public Conv2dSpec withPadding(int h, int w) {
    return new Conv2dSpec(strideH, strideW, h, w, dilationH, dilationW, groups);
  }

  public Conv2dSpec withDilation(int h, int w) {
    return new Conv2dSpec(strideH, strideW, padH, padW, h, w, groups);
  }

  public Conv2dSpec withGroups(int g) {
    return new Conv2dSpec(strideH, strideW, padH, padW, dilationH, dilationW, g);
  }

  /**
   * The output shape for input {@code x} and weight {@code w}, or an exception that names both
   * shapes and what is wrong with them.
   */
  public Shape outputShape(Shape x, Shape w) {
    if (x.rank() != 4 || w.rank() != 4) {
      throw new IllegalArgumentException(
          "conv2d: input " + x + " and weight " + w + " must both be rank 4 (NCHW, OIHW)");
    }
    int cin = x.dim(1);
    int cout = w.dim(0);
    if (cin % groups != 0 || cout % groups != 0) {
      throw new IllegalArgumentException(
          "conv2d: groups="
              + groups
              + " must divide input channels "
              + cin
              + " and output channels "
              + cout
              + " (input "
              + x
              + ", weight "
              + w
              + ")");
    }
    if (w.dim(1) != cin / groups) {
      throw new IllegalArgumentException(
          "conv2d: weight "
              + w
              + " expects "
              + w.dim(1) * groups
              + " input channels but input "
              + x
              + " has "
              + cin
              + " (groups="
              + groups
              + ")");
    }
    int oh = outSize(x.dim(2), w.dim(2), strideH, padH, dilationH);
    int ow = outSize(x.dim(3), w.dim(3), strideW, padW, dilationW);
    if (oh < 1 || ow < 1) {
      throw new IllegalArgumentException(
          "conv2d: kernel of weight " + w + " does not fit input " + x + " with " + this);
    }
    return Shape.of(x.dim(0), cout, oh, ow);
  }

  static int outSize(int in, int kernel, int stride, int pad, int dilation) {
    int effective = dilation * (kernel - 1) + 1;
    return Math.floorDiv(in + 2 * pad - effective, stride) + 1;
  }
}
