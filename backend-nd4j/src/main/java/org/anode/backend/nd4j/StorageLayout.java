package org.anode.backend.nd4j;

import org.anode.api.Shape;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The order in which an ND4J tensor keeps the values of a logically NCHW tensor: the layouts its
 * convolution kernels read and write. Elementwise ops run on the storage as it is (the order of the
 * values does not matter to them), so a block's activations stay in the layout of its convolutions;
 * every other op asks for NCHW ({@link Nd4jTensor#array()}).
 */
enum StorageLayout {
  /** C-ordered {@code [N, C, H, W]}: anode's logical layout. */
  NCHW,
  /** C-ordered {@code [N, H, W, C]}: what libnd4j's oneDNN kernels read without a copy. */
  NHWC,
  /**
   * C-ordered {@code [N, C/8, H, W, 8]} (oneDNN's {@code nChw8c}): what oneDNN's AVX2 kernels read
   * (one 256-bit register of channels); only for channel counts divisible by 8.
   */
  BLOCKED8,
  /**
   * C-ordered {@code [N, C/16, H, W, 16]} (oneDNN's {@code nChw16c}): what oneDNN's Winograd and
   * AVX-512 kernels read; only for channel counts divisible by 16.
   */
  BLOCKED16;

  /** Whether this is one of oneDNN's blocked layouts. */
  boolean isBlocked() {
    return this == BLOCKED8 || this == BLOCKED16;
  }

  /** Channels per block of a blocked layout; 1 for the plain ones. */
  int block() {
    return switch (this) {
      case BLOCKED8 -> 8;
      case BLOCKED16 -> 16;
      case NCHW, NHWC -> 1;
    };
  }

  /**
   * The layout an elementwise op of operands in {@code a} and {@code b} runs and writes in: the
   * convolutions' own layout, blocked before channels-last before NCHW, so that the result is what
   * the next convolution reads (a gradient that arrives channels-last is converted once, at the
   * first sum with a blocked one, not at every solver step). Of two different blocked layouts (the
   * block size was switched, {@link OneDnn#BLOCK_PROPERTY}), the one convolutions write now.
   */
  static StorageLayout preferred(StorageLayout a, StorageLayout b) {
    if (a.isBlocked() && b.isBlocked() && a != b) {
      return OneDnn.blockedLayout();
    }
    return a.ordinal() >= b.ordinal() ? a : b;
  }

  /** The shape of the C-ordered array that stores an NCHW tensor of {@code nchw} in this layout. */
  Shape storageShape(Shape nchw) {
    return switch (this) {
      case NCHW -> nchw;
      case NHWC -> Shape.of(nchw.dim(0), nchw.dim(2), nchw.dim(3), nchw.dim(1));
      case BLOCKED8, BLOCKED16 ->
          Shape.of(nchw.dim(0), nchw.dim(1) / block(), nchw.dim(2), nchw.dim(3), block());
    };
  }

  /**
   * Copies {@code from} (the storage of an NCHW tensor of {@code nchw} in layout {@code source})
   * into {@code to} (its storage in this layout). oneDNN's reorder when it is loaded, else ND4J's
   * strided assignment (only NCHW and NHWC occur without oneDNN).
   */
  void copyFrom(StorageLayout source, INDArray from, INDArray to, Shape nchw) {
    if (source == this) {
      to.assign(from);
    } else if (OneDnn.enabled()) {
      OneDnn.reorder(source, from, this, to, nchw);
    } else {
      nchwView(to, nchw).assign(source.nchwView(from, nchw));
    }
  }

  /**
   * An NCHW-indexed view of storage in this layout (for NCHW and NHWC; blocked storage has no
   * strided NCHW view).
   */
  INDArray nchwView(INDArray storage, Shape nchw) {
    return switch (this) {
      case NCHW -> storage;
      case NHWC -> storage.permute(0, 3, 1, 2);
      case BLOCKED8, BLOCKED16 ->
          throw new IllegalStateException(
              "nd4j: blocked storage of " + nchw + " has no strided NCHW view");
    };
  }

  /**
   * The axes of this layout's storage that a reduction of an NCHW tensor over {@code axes} reduces,
   * or null when it cannot run on the storage as it is: {@code axes} themselves for NCHW;
   * per-channel reductions (over N, H and W: a bias gradient, batch statistics) and full ones in
   * the other layouts, since a channel's values are the same set in every layout, only their order
   * (and so float32 round-off) differs. The reduced storage keeps the channels in order: {@code [1,
   * C/b, 1, 1, b]} blocked, {@code [1, 1, 1, C]} channels-last.
   */
  int[] reducedAxes(Shape nchw, int[] axes) {
    if (this == NCHW) {
      return axes;
    }
    if (nchw.rank() != 4) {
      return null;
    }
    int[] sorted = axes.clone();
    java.util.Arrays.sort(sorted);
    int rank = storageShape(nchw).rank();
    if (sorted.length == 4) {
      return java.util.stream.IntStream.range(0, rank).toArray();
    }
    if (!java.util.Arrays.equals(sorted, new int[] {0, 2, 3})) {
      return null;
    }
    return this == NHWC ? new int[] {0, 1, 2} : new int[] {0, 2, 3};
  }

  /** Whether a tensor of {@code nchw} can be stored in this layout. */
  boolean fits(Shape nchw) {
    return switch (this) {
      case NCHW -> true;
      case NHWC -> nchw.rank() == 4;
      case BLOCKED8, BLOCKED16 -> nchw.rank() == 4 && nchw.dim(1) % block() == 0;
    };
  }
}
