package org.anode.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.SplittableRandom;
import org.anode.api.AbstractTensor;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.ResidentMemory;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.BatchNorm2d;
import org.anode.nn.Conv2d;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Flatten;
import org.anode.nn.GlobalAvgPool2d;
import org.anode.nn.Linear;
import org.anode.nn.Parameter;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;
import org.junit.jupiter.api.Test;

/**
 * 10,000 forward + backward + SGD steps of a small conv net keep the process's native memory flat:
 * every tensor of a step is released when its scope closes, not when the garbage collector runs.
 *
 * <p>Measured three ways: the exact count of open tensors after every step; the resident set size
 * (from /proc) after warm-up and at the end; and the resident set's growth per step in the
 * stretches between garbage collections, which must be a small fraction of the tensor bytes a step
 * allocates (were tensors freed only by the collector, it would be all of them). Each backend's
 * test runs in a JVM of its own with a fixed, pre-touched heap, so the resident set moves only with
 * that backend's native memory.
 *
 * <p>A backend runs it by subclassing, in a test class of its own, with surefire set to a fresh JVM
 * per class and a fixed, pre-touched heap ({@code <reuseForks>false</reuseForks>}, {@code <argLine>
 * -Xms512m -Xmx512m -XX:+AlwaysPreTouch</argLine>}):
 *
 * <pre>{@code
 * class MyBackendNativeMemoryTest extends NativeMemorySuite {
 *   MyBackendNativeMemoryTest() { super("mybackend"); }
 * }
 * }</pre>
 */
public abstract class NativeMemorySuite {
  static final int STEPS = 10_000;

  /** Malloc arenas, JIT code and ND4J's shape caches settle within ~3,000 steps (measured). */
  static final int WARMUP = 3_000;

  /**
   * The resident set's growth allowed after warm-up. ND4J's grew by 19–48 MiB over the 7,000 steps
   * in five runs here, in steps that then stay flat (freed bookkeeping that malloc keeps in its
   * arenas); a leak of one step's tensors would add ~10 GiB, and one of 14 KiB per step 96 MiB.
   */
  static final long MAX_GROWTH = 96L << 20;

  static long gcCount() {
    long n = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      n += gc.getCollectionCount();
    }
    return n;
  }

  private final String backend;

  protected NativeMemorySuite(String backend) {
    this.backend = backend;
  }

  /** The backend under test; by default the provider named in the constructor. */
  protected Backend backend() {
    return Backends.get(backend);
  }

  @Test
  void tenThousandTrainingStepsKeepNativeMemoryFlat() throws IOException {
    Backend be = backend();
    ParameterFactory f = new ParameterFactory(be, DType.FLOAT32, 3);
    Sequential net =
        new Sequential(
            new Conv2d(f, 3, 8, 3, Conv2dSpec.of(1, 1), false),
            new BatchNorm2d(f, 8),
            new ReLU(),
            new Conv2d(f, 8, 8, 3, Conv2dSpec.of(2, 1), false),
            new ReLU(),
            new GlobalAvgPool2d(),
            new Flatten(),
            new Linear(f, 8, 10));
    SplittableRandom rng = new SplittableRandom(1);
    int batch = 8;
    float[] pixels = new float[batch * 3 * 16 * 16];
    int[] labels = new int[batch];
    long openBefore = AbstractTensor.openTensors();
    long rssWarm = 0;
    long rssMax = 0;
    StringBuilder trajectory = new StringBuilder("RSS MiB by step:");
    long bytesPerStep = 0;
    long quietGrowth = 0; // RSS growth summed over steps with no garbage collection
    long quietSteps = 0;
    long rssPrev = ResidentMemory.currentBytes();
    long gcPrev = gcCount();
    for (int step = 0; step < STEPS; step++) {
      for (int i = 0; i < pixels.length; i++) {
        pixels[i] = (float) rng.nextDouble(-1, 1);
      }
      for (int i = 0; i < batch; i++) {
        labels[i] = rng.nextInt(10);
      }
      long createdBefore = AbstractTensor.createdBytes();
      try (TensorScope scope = TensorScope.open();
          Tape tape = Tape.record()) {
        Variable x = Variable.constant(be.fromArray(pixels, Shape.of(batch, 3, 16, 16)));
        tape.backward(CrossEntropyLoss.of(net.forward(x), labels));
        for (Parameter p : net.parameters().values()) {
          p.update(be.sub(p.value(), be.mulScalar(p.grad(), 0.01)));
          p.zeroGrad();
        }
        if (step == 0) {
          // What the step allocated (intermediates are freed at their last use, before it ends).
          bytesPerStep = AbstractTensor.createdBytes() - createdBefore;
        }
      }
      assertEquals(openBefore, AbstractTensor.openTensors(), "open tensors after step " + step);
      long rss = ResidentMemory.currentBytes();
      long gcs = gcCount();
      if (gcs == gcPrev && step >= 100) {
        quietGrowth += rss - rssPrev;
        quietSteps++;
      }
      rssPrev = rss;
      gcPrev = gcs;
      if (step % 1000 == 0) {
        trajectory.append(String.format(" %d:%.0f", step, rss / 1048576.0));
      }
      if (step == WARMUP) {
        rssWarm = rss;
      }
      if (step >= WARMUP) {
        rssMax = Math.max(rssMax, rss);
      }
    }
    long rssEnd = ResidentMemory.currentBytes();
    long growth = rssEnd - rssWarm;
    // Were the step's tensors leaked instead, each step after warm-up would add bytesPerStep.
    long leakedIfNotFreed = (STEPS - WARMUP) * bytesPerStep;
    double quietPerStep = quietSteps == 0 ? 0 : (double) quietGrowth / quietSteps;
    System.out.printf(
        be.name()
            + " native memory: RSS after %d steps %.1f MiB, after %d steps %.1f MiB, growth %.1f MiB (peak %.1f MiB);"
            + " one step allocates %.2f MiB of tensors (%.0f MiB if never freed);"
            + " between collections RSS grew %.1f KiB per step over %d steps%n",
        WARMUP,
        rssWarm / 1048576.0,
        STEPS,
        rssEnd / 1048576.0,
        growth / 1048576.0,
        rssMax / 1048576.0,
        bytesPerStep / 1048576.0,
        leakedIfNotFreed / 1048576.0,
        quietPerStep / 1024,
        quietSteps);
    System.out.println(trajectory);
    assertTrue(quietSteps > 1000, "too few steps between collections to judge: " + quietSteps);
    assertTrue(
        quietPerStep < 0.1 * bytesPerStep,
        "between collections RSS grew "
            + quietPerStep
            + " bytes per step: tensors wait for the collector");
    assertTrue(leakedIfNotFreed > 1L << 30, "the test must be able to see a leak");
    assertTrue(
        growth < MAX_GROWTH,
        "RSS grew by " + growth + " bytes over " + (STEPS - WARMUP) + " steps");
    Map<String, Tensor> state = net.stateDict();
    for (Tensor t : state.values()) {
      for (float v : t.toFloatArray()) {
        assertTrue(Float.isFinite(v));
      }
    }
    net.close();
  }
}
