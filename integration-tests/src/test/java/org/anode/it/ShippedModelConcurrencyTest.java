package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.anode.api.Backend;
import org.anode.api.Backend.Conv2dGradients;
import org.anode.api.Backends;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.conformance.Reference;
import org.junit.jupiter.api.Test;

/**
 * The shipped models' convolutions on each backend's default route with two kernel threads, run by
 * two replicas at once (as Spark's {@code local[2]} runs them in one JVM): each replica's forward
 * pass and both gradients are within the conformance suite's float32 tolerance of the float64
 * reference, and the two replicas' results are equal bit for bit (the same kernel on the same
 * inputs).
 *
 * <p>Why: two Spark workers crashed the JVM on the ND4J route at width 0.125, and the other tests
 * run one kernel thread. ODE-ResNet18's convolutions at width 1, batch 16, where oneDNN picks
 * Winograd on AVX-512 ({@link ShippedModelConvolutionTest} checks that it does).
 */
class ShippedModelConcurrencyTest {
  static {
    // A JVM of its own (integration-tests fork per class): two threads before any backend starts.
    System.setProperty("anode.threads", "2");
  }

  @Test
  void twoReplicasWithTwoThreadsMatchFloat64AndEachOther() throws Exception {
    List<ModelConvolutions.Case> cases = new ArrayList<>();
    for (ModelConvolutions.Case c :
        ModelConvolutions.shipped(Backends.get("nd4j"), 1.0, ShippedModelConvolutionTest.BATCH)) {
      if (c.model().equals("resnet")) {
        cases.add(c);
      }
    }
    List<String> failures = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (String name : List.of("nd4j", "tensorflow", "djl")) {
        Backend be = Backends.get(name);
        assertTrue(be.threads() == 2, name + " runs " + be.threads() + " threads");
        for (ModelConvolutions.Case c : cases) {
          SplittableRandom rng = new SplittableRandom(c.toString().hashCode());
          Shape ys = c.spec().outputShape(c.input(), c.weight());
          float[] x = ModelConvolutions.random(rng, c.input());
          float[] w = ModelConvolutions.random(rng, c.weight());
          float[] g = ModelConvolutions.random(rng, ys);
          double[][] expected = {
            Reference.conv2d(
                ModelConvolutions.widen(x),
                c.input(),
                ModelConvolutions.widen(w),
                c.weight(),
                null,
                c.spec()),
            Reference.conv2dBackwardInput(
                ModelConvolutions.widen(g),
                ModelConvolutions.widen(w),
                c.weight(),
                c.input(),
                c.spec()),
            Reference.conv2dBackwardWeight(
                ModelConvolutions.widen(x),
                c.input(),
                ModelConvolutions.widen(g),
                c.weight(),
                c.spec())
          };
          List<Future<double[][]>> replicas = new ArrayList<>();
          for (int r = 0; r < 2; r++) {
            replicas.add(pool.submit(() -> run(be, c, x, w, g, ys)));
          }
          double[][] first = replicas.get(0).get();
          double[][] second = replicas.get(1).get();
          for (int k = 0; k < 3; k++) {
            double e = GradientCheck.relativeError(expected[k], first[k]);
            if (!(e <= ShippedModelConvolutionTest.TOLERANCE)) {
              failures.add(name + " " + c + " output " + k + ": relative error " + e);
            }
            assertArrayEquals(first[k], second[k], name + " " + c + ": replicas differ");
          }
        }
        System.out.println(name + ": " + cases.size() + " convolutions, two replicas, two threads");
      }
    } finally {
      pool.shutdownNow();
    }
    assertTrue(failures.isEmpty(), failures.toString());
  }

  private static double[][] run(
      Backend be, ModelConvolutions.Case c, float[] x, float[] w, float[] g, Shape ys) {
    try (TensorScope scope = TensorScope.open()) {
      Tensor tx = be.fromArray(x, c.input());
      Tensor tw = be.fromArray(w, c.weight());
      Tensor y = be.conv2d(tx, tw, null, c.spec());
      Conv2dGradients d = be.conv2dBackward(tx, tw, be.fromArray(g, ys), c.spec(), true, true);
      return new double[][] {
        y.toDoubleArray(), d.input().toDoubleArray(), d.weight().toDoubleArray()
      };
    }
  }
}
