package org.anode.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.function.LongSupplier;
import org.anode.api.Backends;
import org.junit.jupiter.api.Test;

class ConvolutionThroughputTest {
  /**
   * The bench's count for the default configuration with the last block kept (24 evaluations
   * forward, 16 recomputed): 48 forward, 32 recomputed and 2·48 backward convolutions, 176 of 2.416
   * GFLOP each.
   */
  @Test
  void stepOfTheDefaultConfiguration() {
    double conv = ConvolutionThroughput.convolutionFlops(32, 64, 32);
    assertEquals(2 * 32 * 64 * 64 * 9 * 32 * 32.0, conv);
    assertEquals(2.415919104e9, conv, 1);
    assertEquals(176 * conv, ConvolutionThroughput.stepFlops(32, 64, 32, 24, 16), 1e-3);
    // Store-all: no recomputation, 24 evaluations forward and their 24 differentiated.
    assertEquals(144 * conv, ConvolutionThroughput.stepFlops(32, 64, 32, 24, 0), 1e-3);
  }

  /**
   * The peak is the convolution's FLOPs over the median of the timed calls, the three warm-up calls
   * not counted: on a clock whose readings make the timed calls take 5, 1, 3, 2 and 4 ms (each
   * warm-up call reads it once, each timed call twice), the median is 3 ms.
   */
  @Test
  void peakIsTheFlopsOverTheMedianTimedCall() {
    long[] millis = {0, 0, 0, 0, 5, 5, 6, 6, 9, 9, 11, 11, 15};
    int[] reading = {0};
    LongSupplier clock = () -> millis[reading[0]++] * 1_000_000L;
    double flops = ConvolutionThroughput.measurePeak(Backends.get("nd4j"), 2, 4, 8, 5, clock);
    assertEquals(millis.length, reading[0], "readings");
    assertEquals(ConvolutionThroughput.convolutionFlops(2, 4, 8) / 3e-3, flops, 1e-6);
  }
}
