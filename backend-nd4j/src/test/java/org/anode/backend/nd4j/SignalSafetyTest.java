package org.anode.backend.nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Method;
import one.profiler.AsyncProfiler;
import one.profiler.AsyncProfilerLoader;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * The ND4J backend's training kernels, as configured by default, run under a sampling profiler
 * without damage: async-profiler interrupts every running thread with a signal every 100 µs while a
 * convolution's forward pass, both of its gradients and a matrix product run for three seconds,
 * then glibc consolidates the heap's free chunks (where it checks their headers) and the results
 * are compared with those computed before.
 *
 * <p>Why: oneDNN's JIT-generated {@code sgemm} kernels point the stack pointer at a heap workspace
 * while they run (oneDNN issue 4845), so a signal handled inside one writes its frame into the
 * heap; a weight gradient computed by that {@code sgemm} (once an opt-in route, removed since) made
 * this test's fork abort with "corrupted size vs. prev_size" (twice of twice). libnd4j's {@code
 * matmul} also runs a oneDNN {@code gemm:jit} (its own, older copy); it did not fail here, also
 * with a [256, 4096] · [4096, 256] product, and is covered all the same.
 */
class SignalSafetyTest {
  final Backend be = Backends.get("nd4j");

  @Test
  void trainingKernelsSurviveASamplingProfiler() throws Exception {
    AsyncProfiler profiler = AsyncProfilerLoader.loadOrNull();
    assumeTrue(profiler != null, "async-profiler does not load on this platform");
    Shape xs = Shape.of(8, 64, 32, 32);
    Shape ws = Shape.of(64, 64, 3, 3);
    Conv2dSpec spec = Conv2dSpec.of(1, 1);
    Tensor x = SamePrecisionInputs.random(be, xs, DType.FLOAT32, 1);
    Tensor w = SamePrecisionInputs.random(be, ws, DType.FLOAT32, 2);
    Tensor a = SamePrecisionInputs.random(be, Shape.of(256, 512), DType.FLOAT32, 3);
    Tensor b = SamePrecisionInputs.random(be, Shape.of(512, 256), DType.FLOAT32, 4);
    double[][] before = step(x, w, a, b);
    try {
      profiler.execute("start,event=cpu,interval=100us");
    } catch (IllegalStateException | java.io.IOException e) {
      assumeTrue(false, "async-profiler does not start here: " + e.getMessage());
    }
    int steps = 0;
    try {
      long end = System.nanoTime() + 3_000_000_000L;
      while (System.nanoTime() < end) {
        step(x, w, a, b);
        steps++;
      }
    } finally {
      profiler.execute("stop");
    }
    consolidateNativeHeap();
    double[][] after = step(x, w, a, b);
    assertTrue(steps > 0, "no step ran under the profiler");
    for (int i = 0; i < before.length; i++) {
      assertArrayEquals(before[i], after[i], 0.0, "result " + i + " after " + steps + " steps");
    }
  }

  /** A convolution + ReLU, its input and weight gradients, and a matrix product; their values. */
  private double[][] step(Tensor x, Tensor w, Tensor a, Tensor b) {
    try (TensorScope scope = TensorScope.open()) {
      Conv2dSpec spec = Conv2dSpec.of(1, 1);
      Tensor y = be.conv2dRelu(x, w, null, spec);
      return new double[][] {
        y.toDoubleArray(),
        be.conv2dBackwardWeight(x, y, w.shape(), spec).toDoubleArray(),
        be.conv2dBackwardInput(y, w, x.shape(), spec).toDoubleArray(),
        be.matmul(a, b).toDoubleArray()
      };
    }
  }

  /**
   * glibc's {@code malloc_trim}, through JavaCPP: it consolidates the free chunks of every arena,
   * checking each chunk's size against its neighbour's, and aborts the process on a mismatch.
   */
  private static void consolidateNativeHeap() throws ReflectiveOperationException {
    Method trim = Pointer.class.getDeclaredMethod("trimMemory");
    trim.setAccessible(true);
    trim.invoke(null);
  }
}
