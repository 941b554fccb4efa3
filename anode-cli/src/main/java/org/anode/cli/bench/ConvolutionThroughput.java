package org.anode.cli.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * Convolution arithmetic of the bench's stack model, so that a step time reads as GFLOP/s beside
 * what one convolution of the same shape reaches alone. A 3×3 convolution of {@code B×C×S×S} to
 * {@code C} channels (stride 1, padding 1) costs {@code 2·B·C²·9·S²} FLOPs; each evaluation of f
 * runs two. Its backward computes both gradients, each as costly as the forward. A step thus costs
 * {@code 2·conv·(fwd + bwd) + 4·conv·fwd}: every evaluation, recomputed or not, runs two forward
 * convolutions, and the sweep differentiates exactly the evaluations the forward pass ran.
 * Elementwise work (ReLU, the solver's sums) is not counted: the figure is convolution throughput.
 */
final class ConvolutionThroughput {
  private ConvolutionThroughput() {}

  /** FLOPs of one forward 3×3 convolution of the stack's shape. */
  static double convolutionFlops(int batch, int channels, int size) {
    return 2.0 * batch * channels * (double) channels * 9 * size * (double) size;
  }

  /** FLOPs of convolutions in one step with {@code fwd} and {@code bwd} evaluations of f. */
  static double stepFlops(int batch, int channels, int size, double fwd, double bwd) {
    double conv = convolutionFlops(batch, channels, size);
    return 2 * conv * (fwd + bwd) + 4 * conv * fwd;
  }

  /**
   * FLOP/s of one forward convolution of the stack's shape on {@code be} in float32: the median of
   * {@code calls} calls after three warm-up calls; each result is freed before the next call.
   */
  static double measurePeak(Backend be, int batch, int channels, int size, int calls) {
    return measurePeak(be, batch, channels, size, calls, System::nanoTime);
  }

  /** As {@link #measurePeak(Backend, int, int, int, int)} on {@code clock} (nanoseconds). */
  static double measurePeak(
      Backend be, int batch, int channels, int size, int calls, LongSupplier clock) {
    try (TensorScope scope = TensorScope.open()) {
      float[] x = new float[batch * channels * size * size];
      float[] w = new float[channels * channels * 9];
      Arrays.fill(x, 0.5f);
      Arrays.fill(w, 0.01f);
      Tensor weight = be.fromArray(w, Shape.of(channels, channels, 3, 3));
      Conv2dSpec spec = Conv2dSpec.of(1, 1);
      // The input as a convolution leaves it, in the layout the backend keeps between its
      // convolutions (as inside an ODE block), so that no layout change is timed.
      Tensor input =
          be.conv2d(be.fromArray(x, Shape.of(batch, channels, size, size)), weight, null, spec);
      long[] times = new long[calls];
      for (int i = -3; i < calls; i++) {
        long t0 = clock.getAsLong();
        Tensor y = be.conv2d(input, weight, null, spec);
        y.close();
        if (i >= 0) {
          times[i] = clock.getAsLong() - t0;
        }
      }
      Arrays.sort(times);
      return convolutionFlops(batch, channels, size) / (times[calls / 2] * 1e-9);
    }
  }

  /**
   * The lines printed under the bench's table: each row's GFLOP/s, then each backend's {@code
   * peaks} (FLOP/s of one convolution alone, the median of {@code calls}).
   */
  static void print(
      List<BenchResult> rows,
      Map<String, Double> peaks,
      int calls,
      int batch,
      int channels,
      int size) {
    System.out.printf(
        Locale.ROOT,
        "convolutions: %.2f GFLOP per forward 3×3 convolution [%d, %d, %d, %d]; per step:%n",
        convolutionFlops(batch, channels, size) / 1e9,
        batch,
        channels,
        size,
        size);
    for (BenchResult r : rows) {
      if (r.method().equals("adjoint")) {
        continue; // its backward differentiates other evaluations than the forward ran
      }
      double flops =
          stepFlops(batch, channels, size, r.forwardEvaluations(), r.backwardEvaluations());
      System.out.printf(
          Locale.ROOT,
          "  %-16s N_t %-3d %-10s %7.1f GFLOP in %.3f s = %6.1f GFLOP/s%n",
          r.backend(),
          r.steps(),
          r.method(),
          flops / 1e9,
          r.seconds(),
          flops / r.seconds() / 1e9);
    }
    peaks.forEach(
        (backend, flops) ->
            System.out.printf(
                Locale.ROOT,
                "  %-16s one forward convolution alone: %6.1f GFLOP/s (median of %d calls)%n",
                backend,
                flops / 1e9,
                calls));
  }
}
