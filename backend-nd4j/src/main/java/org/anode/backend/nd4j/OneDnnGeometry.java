package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.dnnl_format_tag_any;

import org.anode.api.Conv2dSpec;
import org.anode.api.Shape;
import org.bytedeco.dnnl.dnnl_memory_desc_t;

/**
 * The memory descriptors and geometry of one convolution in oneDNN's conventions: dilation counted
 * from 0, and the bottom/right padding that gives anode's output size ({@link #padRight}).
 */
final class OneDnnGeometry {
  final dnnl_memory_desc_t src;
  final dnnl_memory_desc_t dst;
  final dnnl_memory_desc_t weightsAny;
  final long[] strides;
  final long[] dilation;
  final long[] padL;
  final long[] padR;

  /** {@code x} in its {@link OneDnnConvolutions#sourceLayout}, the output in {@code blocked}. */
  OneDnnGeometry(Shape x, Shape w, Conv2dSpec s, StorageLayout blocked) {
    Shape y = s.outputShape(x, w);
    src = OneDnn.desc(x, OneDnnConvolutions.sourceLayout(x, blocked));
    dst = OneDnn.desc(y, blocked);
    weightsAny = OneDnn.desc(w.dimsAsLong(), dnnl_format_tag_any);
    strides = new long[] {s.strideH(), s.strideW()};
    dilation = new long[] {s.dilationH() - 1, s.dilationW() - 1};
    padL = new long[] {s.padH(), s.padW()};
    padR =
        new long[] {
          onednnPadRight(x.dim(2), y.dim(2), w.dim(2), s.strideH(), s.dilationH(), s.padH()),
          onednnPadRight(x.dim(3), y.dim(3), w.dim(3), s.strideW(), s.dilationW(), s.padW())
        };
  }

  /**
   * The bottom/right padding past the input that the last output row or column reads, for the
   * output size anode computed: negative when the last {@code -padRight} input rows are not read at
   * all (a strided 1×1 shortcut on an even size). oneDNN sizes its output as {@code ⌊(in + padL +
   * padR − k_eff) / stride⌋ + 1}, so any overhang above {@code −stride} gives anode's size with
   * {@link #onednnPadRight} 0.
   */
  static long padRight(int in, int out, int k, int stride, int dilation, int padLeft) {
    return (long) (out - 1) * stride + (long) (k - 1) * dilation + 1 - in - padLeft;
  }

  /** The padding oneDNN is given: {@link #padRight}, or 0 where that is negative. */
  private static long onednnPadRight(int in, int out, int k, int stride, int dilation, int padL) {
    return Math.max(0, padRight(in, out, k, stride, dilation, padL));
  }
}
