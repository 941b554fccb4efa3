package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Locale;
import org.anode.api.Conv2dSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the DJL backend computes a float32 convolution: libtorch's kernel as it is, the same kernel
 * on channels zero-padded to whole blocks of {@value #BLOCK}, or in float64.
 *
 * <p>Why: libtorch 2.7.1's float32 convolutions go through its oneDNN, and on some CPUs they return
 * wrong numbers without an error whenever a channel count is not a multiple of oneDNN's register
 * block, so that oneDNN's blocked copies of the operands carry padding channels. On a 2-core AMD
 * EPYC Zen 5 (family 26, AVX-512) the forward convolution with 24 input channels gave NaN and the
 * input gradients with 5, 8 or 24 output channels errors of order 1 or NaN, with every ISA from
 * AVX2 up ({@code ONEDNN_MAX_CPU_ISA}); with AVX or SSE4.1 kernels, with channel counts in whole
 * blocks, and in float64 (no oneDNN) it is right. Zero channels added by anode change no sum (a
 * zero input channel meets a zero weight, a zero output channel is dropped, a zero upstream
 * gradient adds nothing), so the padded route is exact and runs on libtorch's own float32 kernels.
 *
 * <p>The system property {@value #PROPERTY} picks the route: {@code auto} (default) probes libtorch
 * once per process on shapes with partial blocks, against float64, and takes the native kernels
 * when they are right, else the padded route when its own probe is right, else float64 (with a
 * warning: ~40× slower); {@code padded} always pads partial blocks, {@code float64} always widens.
 * A wrong kernel can never pass silently: {@code auto} probes before the first convolution.
 */
final class Float32Convolutions {
  static final String PROPERTY = "anode.djl.float32Convolutions";

  /** Channels per block: AVX-512's 16 floats, a multiple of AVX2's 8. */
  static final int BLOCK = 16;

  private static final Logger LOG = LoggerFactory.getLogger(Float32Convolutions.class);

  /** How one float32 convolution runs. */
  enum Route {
    /** libtorch's float32 kernel on the operands as they are. */
    NATIVE,
    /** libtorch's float32 kernel on operands whose channels are zero-padded to whole blocks. */
    PADDED,
    /** libtorch's float64 kernel, the result rounded to float32. */
    FLOAT64
  }

  /** {x shape, w shape} pairs: channel counts that are not multiples of oneDNN's 16-lane blocks. */
  private static final long[][][] PROBES = {
    {{2, 24, 8, 8}, {16, 24, 3, 3}},
    {{2, 4, 7, 6}, {5, 4, 3, 3}},
    {{2, 8, 8, 8}, {8, 8, 3, 3}},
    {{2, 16, 8, 8}, {24, 16, 3, 3}}
  };

  /** The relative error (float32 against float64) a probe accepts: float32 round-off is ~1e-6. */
  static final double PROBE_TOLERANCE = 1e-3;

  private static volatile Route probed;

  /** The probe's errors, native and padded (NaN: not probed). */
  private static volatile double nativeError = Double.NaN;

  private static volatile double paddedError = Double.NaN;

  private Float32Convolutions() {}

  /**
   * The route of a float32 convolution of an input with {@code inChannels} by a weight with {@code
   * outChannels} output channels: {@link Route#NATIVE} when both are whole blocks (the padded route
   * would change nothing), else as {@link #PROPERTY} says.
   */
  static Route route(NDManager manager, long inChannels, long outChannels, int groups) {
    Route mode = mode(manager);
    if (mode == Route.FLOAT64) {
      return Route.FLOAT64;
    }
    if (inChannels % BLOCK == 0 && outChannels % BLOCK == 0) {
      return Route.NATIVE;
    }
    if (mode == Route.PADDED) {
      // Zero-padding each group's channels would interleave them: grouped ones run in float64.
      return groups == 1 ? Route.PADDED : Route.FLOAT64;
    }
    return Route.NATIVE;
  }

  /** The route {@link #PROPERTY} asks for, with {@code auto} resolved by the probe. */
  static Route mode(NDManager manager) {
    String mode = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
    return switch (mode) {
      case "padded" -> Route.PADDED;
      case "float64" -> Route.FLOAT64;
      case "auto" -> probed(manager);
      default ->
          throw new IllegalArgumentException(
              "-D" + PROPERTY + " must be auto, padded or float64, got '" + mode + "'");
    };
  }

  private static Route probed(NDManager manager) {
    Route r = probed;
    if (r == null) {
      synchronized (Float32Convolutions.class) {
        if (probed == null) {
          probed = probe(manager);
        }
        r = probed;
      }
    }
    return r;
  }

  private static Route probe(NDManager manager) {
    nativeError = worst(manager, false);
    if (nativeError <= PROBE_TOLERANCE) {
      return Route.NATIVE;
    }
    paddedError = worst(manager, true);
    if (paddedError <= PROBE_TOLERANCE) {
      LOG.info(
          "libtorch's float32 convolutions are wrong on this CPU for channel counts in partial"
              + " blocks (relative error {} against float64); anode pads their channels to"
              + " multiples of {} (relative error {})",
          nativeError,
          BLOCK,
          paddedError);
      return Route.PADDED;
    }
    LOG.warn(
        "libtorch's float32 convolutions are wrong on this CPU (relative error {} against float64,"
            + " {} with channels padded to multiples of {}); anode computes them in float64, about"
            + " 40 times slower",
        nativeError,
        paddedError,
        BLOCK);
    return Route.FLOAT64;
  }

  /** One line for {@link org.anode.api.Backend#kernels}: the route and why it was taken. */
  static String describe(NDManager manager) {
    String padded =
        "libtorch's kernels, with channel counts that are not multiples of "
            + BLOCK
            + " zero-padded to them";
    return switch (System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT)) {
      case "padded" -> padded + " (-D" + PROPERTY + "=padded)";
      case "float64" -> "computed in float64, ~40× slower (-D" + PROPERTY + "=float64)";
      default ->
          switch (mode(manager)) {
            case NATIVE ->
                String.format(
                    "libtorch's kernels (start-up probe: right on this CPU, relative error %.1e)",
                    nativeError);
            case PADDED ->
                String.format(
                    "%s (fallback: the start-up probe found libtorch's kernels wrong on such"
                        + " counts, relative error %.1e; padded %.1e)",
                    padded, nativeError, paddedError);
            case FLOAT64 ->
                String.format(
                    "computed in float64, ~40× slower (fallback: the start-up probe found"
                        + " libtorch's kernels wrong, relative error %.1e, padded %.1e)",
                    nativeError, paddedError);
          };
    };
  }

  /** The largest error of the probes on the native or the padded route. */
  private static double worst(NDManager manager, boolean padded) {
    double worst = 0;
    for (long[][] p : PROBES) {
      worst = Math.max(worst, probe(manager, new Shape(p[0]), new Shape(p[1]), padded));
    }
    return worst;
  }

  /** Largest relative error of forward, input and weight gradient, float32 against float64. */
  private static double probe(NDManager parent, Shape xs, Shape ws, boolean padded) {
    try (NDManager m = parent.newSubManager()) {
      NDArray x64 = m.arange(0, (int) xs.size(), 1, DataType.FLOAT64).sin().reshape(xs);
      NDArray w64 = m.arange(0, (int) ws.size(), 1, DataType.FLOAT64).cos().reshape(ws);
      double[][] f64 = forwardAndGradients(x64, w64, false);
      double[][] f32 =
          forwardAndGradients(
              x64.toType(DataType.FLOAT32, true), w64.toType(DataType.FLOAT32, true), padded);
      double worst = 0;
      for (int k = 0; k < f64.length; k++) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < f64[k].length; i++) {
          double d = f32[k][i] - f64[k][i];
          num += d * d;
          den += f64[k][i] * f64[k][i];
        }
        double err = Math.sqrt(num / Math.max(den, 1e-300));
        worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : Math.max(worst, err);
      }
      return worst;
    }
  }

  /**
   * The forward convolution and both gradients (stride 1, padding 1), by either route: every array
   * made here belongs to the manager of {@code x}, which {@link #probe} closes.
   */
  private static double[][] forwardAndGradients(NDArray x, NDArray w, boolean padded) {
    Conv2dSpec spec = Conv2dSpec.of(1, 1);
    NDArray y = ChannelPadding.forward(x, w, null, spec, padded);
    NDArray g =
        y.getManager()
            .arange(0, (int) y.size(), 1, y.getDataType())
            .mul(0.37)
            .cos()
            .reshape(y.getShape());
    NDArray[] grads = ChannelPadding.backward(x, w, g, spec, true, true, padded);
    return new double[][] {doubles(y), doubles(grads[0]), doubles(grads[1])};
  }

  private static double[] doubles(NDArray a) {
    try (NDArray d = a.toType(DataType.FLOAT64, true)) {
      return d.toDoubleArray();
    }
  }
}
