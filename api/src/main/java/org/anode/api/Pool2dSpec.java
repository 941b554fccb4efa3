package org.anode.api;

/**
 * Geometry of 2-D average pooling over NCHW input. Padding cells count as zeros in the average
 * (PyTorch's {@code count_include_pad=True}), so every window divides by {@code kH × kW}.
 */
public record Pool2dSpec(int kernelH, int kernelW, int strideH, int strideW, int padH, int padW) {

  public Pool2dSpec {
    if (kernelH < 1 || kernelW < 1 || strideH < 1 || strideW < 1 || padH < 0 || padW < 0) {
      throw new IllegalArgumentException(
          "Pool2dSpec: kernel and stride must be >= 1 and padding >= 0, got " + this);
    }
    if (padH * 2 > kernelH || padW * 2 > kernelW) {
      throw new IllegalArgumentException(
          "Pool2dSpec: padding must be at most half the kernel, got " + this);
    }
  }

  /** A square window of {@code kernel} with stride {@code kernel} and no padding. */
  public static Pool2dSpec of(int kernel) {
    return new Pool2dSpec(kernel, kernel, kernel, kernel, 0, 0);
  }

  /** A square window with the given stride and padding. */
  public static Pool2dSpec of(int kernel, int stride, int padding) {
    return new Pool2dSpec(kernel, kernel, stride, stride, padding, padding);
  }

  /** The output shape for NCHW input {@code x}, or an exception naming the shape. */
  public Shape outputShape(Shape x) {
    if (x.rank() != 4) {
      throw new IllegalArgumentException("avgPool2d: input " + x + " must be rank 4 (NCHW)");
    }
    int oh = Conv2dSpec.outSize(x.dim(2), kernelH, strideH, padH, 1);
    int ow = Conv2dSpec.outSize(x.dim(3), kernelW, strideW, padW, 1);
    if (oh < 1 || ow < 1) {
      throw new IllegalArgumentException("avgPool2d: window " + this + " does not fit input " + x);
    }
    return Shape.of(x.dim(0), x.dim(1), oh, ow);
  }
}
