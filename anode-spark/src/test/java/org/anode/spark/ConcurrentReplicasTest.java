package org.anode.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * {@code local[N]} runs the workers as threads of one JVM on one shared backend: training replicas
 * on several threads at once must give, bit for bit, what each gives alone.
 */
class ConcurrentReplicasTest {

  @Test
  void replicasTrainedOnThreadsAtOnceEqualEachTrainedAlone() throws Exception {
    List<TinyReplica> replicas =
        List.of(
            new TinyReplica("anode", 32, true, 1),
            new TinyReplica("store-all", 32, true, 2),
            new TinyReplica("anode", 32, false, 3),
            new TinyReplica("revolve:2", 32, true, 4));
    List<Map<String, double[]>> alone = new ArrayList<>();
    for (TinyReplica r : replicas) {
      alone.add(SparkTrainerTest.singleProcess(r, 2));
    }
    ExecutorService pool = Executors.newFixedThreadPool(replicas.size());
    try {
      List<Future<Map<String, double[]>>> together = new ArrayList<>();
      for (TinyReplica r : replicas) {
        together.add(pool.submit(() -> SparkTrainerTest.singleProcess(r, 2)));
      }
      for (int i = 0; i < replicas.size(); i++) {
        assertEquals(
            0.0,
            SparkTrainerTest.maxError(together.get(i).get(), alone.get(i)),
            replicas.get(i) + " on a thread among others");
      }
    } finally {
      pool.shutdown();
    }
  }
}
