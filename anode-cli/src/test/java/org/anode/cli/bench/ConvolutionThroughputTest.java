package org.anode.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.anode.api.Backends;
import org.junit.jupiter.api.Test;

class ConvolutionThroughputTest {
  /**
   * Issue 14's count for the default configuration with the last block kept (24 evaluations
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

  @Test
  void peakOfOneConvolutionIsMeasured() {
    // 36,864 FLOPs per call: at least 1 MFLOP/s (a call under 37 ms), at most a PFLOP/s.
    double flops = ConvolutionThroughput.measurePeak(Backends.get("nd4j"), 2, 4, 8, 5);
    assertTrue(flops > 1e6 && flops < 1e15, "FLOP/s " + flops);
  }
}
