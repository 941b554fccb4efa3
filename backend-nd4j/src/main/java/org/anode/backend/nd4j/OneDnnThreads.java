package org.anode.backend.nd4j;

import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The OpenMP thread count oneDNN runs with, set on every thread that creates or executes a
 * primitive: the backend's, not whatever the calling thread started with.
 *
 * <p>Why: {@code omp_set_num_threads} sets the count of the calling thread only. The backend sets
 * it on the thread that creates it, but Spark's replicas run on worker threads of their own, where
 * OpenMP's default (every core) applied instead; oneDNN sizes a primitive's work split, and so the
 * order of its reductions, by the thread count where it is created, and the cached primitives were
 * created by whichever replica came first. Two runs of the same two-worker training ended with
 * different losses (2.4126 and 2.4097); with the count set on each thread, or {@code
 * OMP_NUM_THREADS=1} for the process, they agree to the last digit (docs/crash-analysis.md).
 */
final class OneDnnThreads {
  private OneDnnThreads() {}

  /** The backend's thread count; 0 until the backend starts. */
  private static volatile int count;

  /** The count last set on each thread. */
  private static final ThreadLocal<int[]> SET = ThreadLocal.withInitial(() -> new int[] {0});

  /** Called by the backend once it knows its thread count. */
  static void use(int threads) {
    count = threads;
  }

  /** Sets the backend's count on the calling thread, unless it is set already. */
  static void onThisThread() {
    int n = count;
    int[] set = SET.get();
    if (n > 0 && set[0] != n) {
      NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(n);
      set[0] = n;
    }
  }
}
