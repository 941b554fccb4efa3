package org.anode.backend.nd4j;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_FROM;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_TO;
import static org.bytedeco.dnnl.global.dnnl.dnnl_sgemm;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
import org.anode.api.Shape;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The weight gradient of a float32 stride-1 convolution as {@code KH·KW} matrix products over
 * zero-framed copies of the input and the output gradient, instead of oneDNN's direct
 * backward-weights kernel.
 *
 * <p>Why: on AVX2-only CPUs oneDNN 2.7's direct kernel for this pass gains little from a second
 * thread (38.5 → 28.9 ms for the bench's [32, 64, 32, 32] * [64, 64, 3, 3] on a 2-core Zen 3) and
 * takes ~1.8× the time of the forward convolution of the same shape; the products below, on
 * oneDNN's own {@code sgemm}, took ~12% less time than it in training steps there (measurements:
 * docs/fused-kernels.md). Only shapes of at least {@link #MIN_CHANNELS} channels and {@link
 * #MIN_POSITIONS} output positions per image are served (smaller products lost to the direct
 * kernel: 1.4–2× its time for 32 channels at 16×16 and 64 at 8×8).
 *
 * <p>Off unless asked for ({@value #PROPERTY}{@code =framed}; the default is {@code direct}):
 * oneDNN's JIT-generated {@code sgemm} kernels point the stack pointer at a heap workspace while
 * they run (oneDNN issue 4845, fixed after 3.11 by pull request 4855; 2.7 and 3.6 have it), so a
 * signal delivered to a thread inside one, as a sampling profiler (async-profiler), {@code kill -3}
 * or any installed handler does, writes its frame into the heap: the process later aborts with
 * "corrupted size vs. prev_size". Checked here: async-profiler attached to a training run crashed
 * it 7 times of 7 with the frames, 0 of 5 without (docs/fused-kernels.md).
 *
 * <p>The identity: with {@code gw[o, c, kh, kw] = Σ_{n,i,j} gy[n, o, i, j] · x[n, c, i + kh − ph, j
 * + kw − pw]}, lay each channel of {@code x} out as one row of consecutive frames, one per image,
 * of width {@code Wf = W + pw} and {@code R = H + ph} rows, the padding as zeros; lay each channel
 * of {@code gy} out the same way (zeros past {@code Ho × Wo}). A frame position {@code p} of {@code
 * gy} then meets, for tap {@code (kh, kw)}, the input at position {@code p + kh·Wf + kw}: one
 * uniform shift, so that {@code gw[:, :, kh, kw] = Gy · Xᵀ_shifted} is a plain matrix product over
 * all positions (the zeros of one row's right padding are the next row's left padding, and one
 * image's bottom padding is the next one's top). Frames cost {@code R·Wf / (Ho·Wo)} more
 * multiply-adds than the direct sum (6% at 32×32 with a 3×3 kernel), all of them by zeros.
 *
 * <p>Images go through in chunks of {@link #imagesPerChunk} so that the frames stay small (about 1
 * MiB, counted as live bytes while in use) and warm in cache between the reorder that fills them
 * and the products that read them. Frames are kept for reuse per geometry ({@link Frames}), since
 * only their data positions are ever written: their zeros stay zeros.
 *
 * <p>Rounding: float32 sums in another order than the direct kernel's (results differ by ~1e-6
 * relative).
 */
final class FramedWeightGradient {
  static final String PROPERTY = "anode.nd4j.weightGradient";

  private static final System.Logger LOG = System.getLogger(FramedWeightGradient.class.getName());

  /** Whether the hazard of the frames was logged (once per process). */
  private static final java.util.concurrent.atomic.AtomicBoolean WARNED =
      new java.util.concurrent.atomic.AtomicBoolean();

  /** Channels below which the products are too narrow to beat the direct kernel. */
  static final int MIN_CHANNELS = 64;

  /** Output positions per image below which chunks are too short to beat the direct kernel. */
  static final int MIN_POSITIONS = 32 * 32;

  private FramedWeightGradient() {}

  /**
   * Whether this class computes the weight gradient of {@code x * w}: chosen by {@value #PROPERTY};
   * stride 1, no dilation, one group, padding below the kernel size, at least {@link #MIN_CHANNELS}
   * input and output channels (the products' sides) and {@link #MIN_POSITIONS} output positions per
   * image.
   */
  static boolean serves(Shape x, Shape w, Conv2dSpec s) {
    String choice = System.getProperty(PROPERTY, "direct");
    boolean wanted =
        switch (choice.toLowerCase(java.util.Locale.ROOT)) {
          case "framed" -> true;
          case "direct" -> false;
          default ->
              throw new IllegalArgumentException(
                  PROPERTY + "=" + choice + ": expected direct (the default) or framed");
        };
    if (!wanted) {
      return false;
    }
    if (!WARNED.getAndSet(true)) {
      LOG.log(
          System.Logger.Level.WARNING,
          PROPERTY
              + "=framed: oneDNN's sgemm kernels corrupt the heap when a signal (a sampling"
              + " profiler, kill -3) reaches a thread inside them; do not profile this process"
              + " with async-profiler");
    }
    Shape y = s.outputShape(x, w);
    return s.strideH() == 1
        && s.strideW() == 1
        && s.dilationH() == 1
        && s.dilationW() == 1
        && s.groups() == 1
        && x.dim(1) >= MIN_CHANNELS
        && w.dim(0) >= MIN_CHANNELS
        && (long) y.dim(2) * y.dim(3) >= MIN_POSITIONS
        && s.padH() < w.dim(2)
        && s.padW() < w.dim(3)
        && y.dim(2) == x.dim(2) + 2 * s.padH() - w.dim(2) + 1
        && y.dim(3) == x.dim(3) + 2 * s.padW() - w.dim(3) + 1;
  }

  /** System property: the values per frame that a chunk aims at. */
  static final String CHUNK_PROPERTY = "anode.nd4j.weightGradientChunk";

  /** Values per frame that a chunk aims at by default (1 MiB of float32). */
  static final long CHUNK_FLOATS = 1L << 18;

  /**
   * Images per chunk: frames of about {@link #CHUNK_FLOATS} values and at most a quarter of the
   * input's each, at least one image. So the two frames take less than the input gradient that
   * {@link Nd4jConvolutions} allocates after them: the weight gradient adds no live bytes at the
   * peak of a backward pass.
   */
  static int imagesPerChunk(Geometry g) {
    long perImage = (long) g.frameArea() * Math.max(g.inputChannels(), g.outputChannels());
    long input = (long) g.images() * g.inputChannels() * g.height() * g.width();
    long target = Math.min(Long.getLong(CHUNK_PROPERTY, CHUNK_FLOATS), input / 4);
    return (int) Math.max(1, Math.min(g.images(), target / perImage));
  }

  /**
   * {@code gw} (C-ordered OIHW) {@code = ∂(conv)/∂w · gy} for {@code x} stored in {@code xLayout}
   * and {@code gy} in {@code gyLayout}; {@link #serves} must hold.
   */
  static void compute(
      INDArray x,
      StorageLayout xLayout,
      INDArray gy,
      StorageLayout gyLayout,
      Shape xShape,
      Shape wShape,
      Conv2dSpec s,
      INDArray gw) {
    int images = xShape.dim(0);
    Geometry g = new Geometry(xShape, wShape, s, images);
    g = new Geometry(xShape, wShape, s, imagesPerChunk(g));
    int o = g.outputChannels();
    int c = g.inputChannels();
    long xImage = (long) c * g.height() * g.width() * Float.BYTES;
    long gyImage = (long) o * g.outH() * g.outW() * Float.BYTES;
    Pointer xBase = OneDnn.address(x);
    Pointer gyBase = OneDnn.address(gy);
    String what = "framed convolution weight gradient " + xShape + " * " + wShape;
    try (Nd4jScratch scratch = new Nd4jScratch()) {
      int taps = g.kernelH() * g.kernelW();
      FloatPointer sums =
          new FloatPointer(OneDnn.address(scratch.get(DType.FLOAT32, Shape.of(taps * o * c))));
      FloatPointer fx = Frames.take(g.inputFrameKey());
      FloatPointer fy = Frames.take(g.gradientFrameKey());
      try {
        for (int n0 = 0; n0 < images; n0 += g.images()) {
          int count = Math.min(g.images(), images - n0);
          reorder(
              new ReorderKey(g, xLayout, true, count),
              offset(xBase, n0 * xImage),
              offset(fx, g.inputFrameOrigin() * Float.BYTES),
              what);
          reorder(
              new ReorderKey(g, gyLayout, false, count), offset(gyBase, n0 * gyImage), fy, what);
          for (int kh = 0; kh < g.kernelH(); kh++) {
            for (int kw = 0; kw < g.kernelW(); kw++) {
              OneDnn.check(
                  dnnl_sgemm(
                      (byte) 'N',
                      (byte) 'T',
                      o,
                      c,
                      (long) count * g.frameArea(),
                      1f,
                      fy,
                      g.gradientStride(),
                      new FloatPointer(fx).position((long) kh * g.frameW() + kw),
                      g.inputStride(),
                      n0 == 0 ? 0f : 1f,
                      new FloatPointer(sums).position((long) (kh * g.kernelW() + kw) * o * c),
                      c),
                  "dnnl_sgemm (" + what + ")");
            }
          }
        }
      } finally {
        Frames.give(g.inputFrameKey(), fx);
        Frames.give(g.gradientFrameKey(), fy);
      }
      // sums[kh][kw][o][c] → gw[o][c][kh][kw]
      reorder(new ReorderKey(g, null, false, 0), sums, OneDnn.address(gw), what + " (to OIHW)");
    }
  }

  /**
   * A reorder's identity: {@code count} images of a chunk's input ({@code input}) or output
   * gradient into their frame, from {@code layout}; with a null layout, the sums' tap-major order
   * into OIHW.
   */
  private record ReorderKey(Geometry geometry, StorageLayout layout, boolean input, int count) {
    Reorder make() {
      dnnl_memory_desc_t from = from();
      dnnl_memory_desc_t to = to();
      return new Reorder(OneDnn.reorderPrimitive(from, to), from, to);
    }

    private dnnl_memory_desc_t from() {
      Geometry g = geometry;
      if (layout == null) {
        long oc = (long) g.outputChannels() * g.inputChannels();
        return OneDnn.desc(
            weights().dimsAsLong(), new long[] {g.inputChannels(), 1, g.kernelW() * oc, oc});
      }
      return input
          ? OneDnn.desc(Shape.of(count, g.inputChannels(), g.height(), g.width()), layout)
          : OneDnn.desc(Shape.of(count, g.outputChannels(), g.outH(), g.outW()), layout);
    }

    private dnnl_memory_desc_t to() {
      Geometry g = geometry;
      if (layout == null) {
        return OneDnnConvolutions.oihw(weights());
      }
      return input
          ? OneDnn.desc(
              new long[] {count, g.inputChannels(), g.height(), g.width()},
              new long[] {g.frameArea(), g.inputStride(), g.frameW(), 1})
          : OneDnn.desc(
              new long[] {count, g.outputChannels(), g.outH(), g.outW()},
              new long[] {g.frameArea(), g.gradientStride(), g.frameW(), 1});
    }

    private Shape weights() {
      Geometry g = geometry;
      return Shape.of(g.outputChannels(), g.inputChannels(), g.kernelH(), g.kernelW());
    }
  }

  /** A reorder primitive and the descriptors of its two operands. */
  private record Reorder(
      dnnl_primitive primitive, dnnl_memory_desc_t from, dnnl_memory_desc_t to) {}

  private static final Map<ReorderKey, Reorder> REORDERS = new ConcurrentHashMap<>();

  private static void reorder(ReorderKey key, Pointer src, Pointer dst, String what) {
    Reorder r = REORDERS.computeIfAbsent(key, ReorderKey::make);
    OneDnn.execute(
        r.primitive(),
        new int[] {DNNL_ARG_FROM, DNNL_ARG_TO},
        new dnnl_memory[] {OneDnn.memory(r.from(), src), OneDnn.memory(r.to(), dst)},
        what);
  }

  private static Pointer offset(Pointer base, long bytes) {
    return OneDnn.at(base.address() + bytes);
  }

  /**
   * The frames of a chunk of up to {@code images} images and where the data sits in them; a last,
   * shorter chunk uses the first {@code count} frames of the same buffers. Past its images, its
   * products read the next frame's first rows only against zeros of the gradient; those rows hold
   * this call's own values, since a shorter chunk always follows a full one ({@link
   * #imagesPerChunk} is at most a quarter of the batch's worth).
   */
  record Geometry(
      int images,
      int inputChannels,
      int outputChannels,
      int height,
      int width,
      int outH,
      int outW,
      int kernelH,
      int kernelW,
      int padH,
      int padW) {
    Geometry(Shape x, Shape w, Conv2dSpec s, int images) {
      this(
          images,
          x.dim(1),
          w.dim(0),
          x.dim(2),
          x.dim(3),
          s.outputShape(x, w).dim(2),
          s.outputShape(x, w).dim(3),
          w.dim(2),
          w.dim(3),
          s.padH(),
          s.padW());
    }

    /** Frame width: a row and its right padding, which is the next row's left padding. */
    int frameW() {
      return width + padW;
    }

    /** Frame rows per image: its top padding and its rows (its bottom is the next one's top). */
    int frameArea() {
      return (height + padH) * frameW();
    }

    /**
     * Values per channel of the input frame: the products read up to one kernel's reach past the
     * last image's frame (its bottom padding, then positions that meet zeros of the gradient).
     */
    long inputStride() {
      return roundUp((long) images * frameArea() + (long) kernelH * frameW() + kernelW);
    }

    long gradientStride() {
      return roundUp((long) images * frameArea());
    }

    /** Where the input's first value sits in its frame row. */
    long inputFrameOrigin() {
      return (long) padH * frameW() + padW;
    }

    FrameKey inputFrameKey() {
      return new FrameKey(this, true);
    }

    FrameKey gradientFrameKey() {
      return new FrameKey(this, false);
    }

    private static long roundUp(long floats) {
      return (floats + 15) / 16 * 16; // 64-byte rows
    }
  }

  /** A frame's identity: the positions its data takes, and so the positions that stay zero. */
  record FrameKey(Geometry geometry, boolean input) {
    /** The frame's length: every channel's row. */
    long floats() {
      return input
          ? (long) geometry.inputChannels() * geometry.inputStride()
          : (long) geometry.outputChannels() * geometry.gradientStride();
    }
  }

  /**
   * Frames kept for reuse, by geometry, whose non-data positions are zero: zeroed once when made,
   * never written since. Kept frames are not live bytes (like {@link NativeBlockPool}'s blocks); a
   * frame in use is. At most {@link #LIMIT} bytes are kept; past that a returned frame is freed.
   */
  static final class Frames {
    static final long LIMIT = 64L << 20;
    private static final Map<FrameKey, ArrayDeque<FloatPointer>> FREE = new HashMap<>();
    private static long keptBytes;

    private Frames() {}

    static synchronized FloatPointer take(FrameKey key) {
      ArrayDeque<FloatPointer> kept = FREE.get(key);
      FloatPointer frame;
      if (kept != null && !kept.isEmpty()) {
        frame = kept.pop();
        keptBytes -= key.floats() * Float.BYTES;
      } else {
        frame = new FloatPointer(key.floats());
        if (frame.isNull()) {
          throw new OutOfMemoryError(
              "native allocation of a " + key.floats() + "-float convolution frame failed");
        }
        Pointer.memset(frame, 0, key.floats() * Float.BYTES);
      }
      LiveMemory.allocated(key.floats() * Float.BYTES);
      return frame;
    }

    static synchronized void give(FrameKey key, FloatPointer frame) {
      long bytes = key.floats() * Float.BYTES;
      LiveMemory.released(bytes);
      if (keptBytes + bytes > LIMIT) {
        frame.close();
        return;
      }
      FREE.computeIfAbsent(key, k -> new ArrayDeque<>()).push(frame);
      keptBytes += bytes;
    }
  }
}
