package org.anode.spark;

import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.function.Function;

/**
 * A sum over the workers of a barrier stage, every worker receiving the same result: each worker's
 * vector goes through Spark's {@code BarrierTaskContext.allGather} (via the driver's barrier
 * coordinator) and every worker adds the gathered vectors in worker order, so the sums are equal to
 * the bit on every replica. Doubles travel as their exact bits (Base64 of big-endian IEEE 754).
 *
 * <p>Volume per call for N workers and P values: each worker sends 8P bytes (×4/3 for Base64) to
 * the driver and receives N·8P·4/3 back; the driver sends N²·8P·4/3 in all. A ring all-reduce would
 * move 2·8P·(N−1)/N per worker; allGather is what Spark's barrier mode offers, and with the handful
 * of workers a CPU job uses the difference is small (see the README's measurements).
 */
final class AllReduce {
  private final Function<String, String[]> allGather;
  private long bytesSent;
  private long nanos;

  /**
   * Sums through {@code allGather}: a worker's message in, every worker's (in worker order) out.
   */
  AllReduce(Function<String, String[]> allGather) {
    this.allGather = allGather;
  }

  /** The element-wise sum of {@code values} over all workers, added in worker order. */
  double[] sum(double[] values) {
    long t0 = System.nanoTime();
    ByteBuffer b = ByteBuffer.allocate(8 * values.length);
    b.asDoubleBuffer().put(values);
    String mine = Base64.getEncoder().encodeToString(b.array());
    String[] all = allGather.apply(mine);
    bytesSent += mine.length();
    double[] sum = new double[values.length];
    for (String s : all) {
      ByteBuffer in = ByteBuffer.wrap(Base64.getDecoder().decode(s));
      if (in.remaining() != 8 * values.length) {
        throw new IllegalStateException(
            "all-reduce: a worker sent "
                + in.remaining() / 8
                + " values, this one "
                + values.length
                + " (replicas differ in their parameters)");
      }
      for (int i = 0; i < sum.length; i++) {
        sum[i] += in.getDouble();
      }
    }
    nanos += System.nanoTime() - t0;
    return sum;
  }

  /** Bytes this worker has sent (its messages as Base64 text). */
  long bytesSent() {
    return bytesSent;
  }

  /** Time spent in {@link #sum}, waiting for the slowest worker included. */
  double seconds() {
    return nanos / 1e9;
  }
}
