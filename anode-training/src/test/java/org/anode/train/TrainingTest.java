package org.anode.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.TensorScope;
import org.anode.data.Augmentation;
import org.anode.data.DataLoader;
import org.anode.data.ImageDataset;
import org.anode.nn.BatchNorm2d;
import org.anode.nn.Conv2d;
import org.anode.nn.Flatten;
import org.anode.nn.GlobalAvgPool2d;
import org.anode.nn.Linear;
import org.anode.nn.Module;
import org.anode.nn.Parameter;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;
import org.anode.ode.CheckpointedGradient;
import org.anode.ode.OdeBlock;
import org.anode.ode.RungeKutta2;
import org.anode.ode.Stepping;
import org.anode.ode.VectorField;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Optimizers, schedules, checkpoints, exact resume and the non-finite guard. */
class TrainingTest {
  final Backend be = Backends.get();
  @TempDir Path tmp;

  Parameter param(double... v) {
    return new Parameter(be.fromArray(v, Shape.of(v.length)));
  }

  @Test
  void sgdFollowsPyTorchsRule() {
    try (TensorScope scope = TensorScope.open()) {
      Parameter p = param(1.0, -2.0);
      Sgd sgd = new Sgd(0.9, true, 0.1);
      double[] theta = {1.0, -2.0};
      double[] buf = new double[2];
      double[] grad = {0.5, 0.25};
      for (int step = 0; step < 3; step++) {
        p.accumulateGrad(be.fromArray(grad, Shape.of(2)));
        sgd.step(Map.of("p", p), 0.1);
        p.zeroGrad();
        for (int i = 0; i < 2; i++) {
          double g = grad[i] + 0.1 * theta[i];
          buf[i] = step == 0 ? g : 0.9 * buf[i] + g;
          theta[i] -= 0.1 * (g + 0.9 * buf[i]);
        }
        assertArrayEquals(theta, p.value().toDoubleArray(), 1e-15);
      }
      sgd.close();
      p.close();
    }
  }

  @Test
  void adamFollowsKingmaAndBa() {
    try (TensorScope scope = TensorScope.open()) {
      Parameter p = param(0.3);
      Adam adam = new Adam();
      double theta = 0.3;
      double m = 0;
      double v = 0;
      for (int t = 1; t <= 3; t++) {
        double g = 2 * theta; // d/dθ θ²
        p.accumulateGrad(be.fromArray(new double[] {g}, Shape.of(1)));
        adam.step(Map.of("p", p), 0.01);
        p.zeroGrad();
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        theta -=
            0.01 * (m / (1 - Math.pow(0.9, t))) / (Math.sqrt(v / (1 - Math.pow(0.999, t))) + 1e-8);
        assertEquals(theta, p.value().item(), 1e-15);
      }
      assertEquals(Map.of("t.p", 3L), adam.counters());
      adam.close();
      p.close();
    }
  }

  @Test
  void schedules() {
    LearningRateSchedule ref = LearningRateSchedule.reference(0.1);
    assertEquals(0.1, ref.rate(0));
    assertEquals(0.1, ref.rate(149));
    assertEquals(0.01, ref.rate(150), 1e-15);
    assertEquals(0.001, ref.rate(250), 1e-15);
    LearningRateSchedule cos = LearningRateSchedule.cosine(0.1, 10);
    assertEquals(0.1, cos.rate(0), 1e-15);
    assertEquals(0.05, cos.rate(5), 1e-15);
  }

  static ImageDataset synthetic(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    byte[] px = new byte[n * 3 * 8 * 8];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = r.nextInt(3);
      for (int k = 0; k < 192; k++) {
        // Class-dependent brightness in one channel, so that there is something to learn.
        int base = (k / 64 == labels[i]) ? 200 : 60;
        px[i * 192 + k] = (byte) (base + r.nextInt(40));
      }
    }
    return new ImageDataset(px, labels, List.of("a", "b", "c"), 3, 8, 8);
  }

  Module model() {
    ParameterFactory f = new ParameterFactory(be, DType.FLOAT32, 4);
    return new Sequential(
        new Conv2d(f, 3, 4, 3, Conv2dSpec.of(1, 1), false),
        new BatchNorm2d(f, 4),
        new ReLU(),
        new OdeBlock(
            VectorField.autonomous(
                new Sequential(new Conv2d(f, 4, 4, 3, Conv2dSpec.of(1, 1), false), new ReLU())),
            new RungeKutta2(),
            0,
            1,
            Stepping.fixed(2),
            new CheckpointedGradient()),
        new GlobalAvgPool2d(),
        new Flatten(),
        new Linear(f, 4, 3));
  }

  @Test
  void resumeContinuesExactlyAndMetricsAreWritten() throws Exception {
    ImageDataset train = synthetic(96, 1);
    ImageDataset test = synthetic(30, 2);
    Augmentation aug =
        new Augmentation(
            1, true, new float[] {0.5f, 0.5f, 0.5f}, new float[] {0.25f, 0.25f, 0.25f});
    DataLoader trainLoader = new DataLoader(train, 16, true, aug, 7);
    DataLoader testLoader = new DataLoader(test, 16, false, Augmentation.cifarEvaluation(), 7);
    LearningRateSchedule lr = LearningRateSchedule.cosine(0.05, 3);

    Module straight = model();
    Sgd sgd1 = new Sgd(0.9, false, 5e-4);
    Path csv = tmp.resolve("metrics.csv");
    List<EpochMetrics> full =
        new Trainer(be, straight, sgd1, lr, DType.FLOAT32, 7)
            .metricsTo(csv)
            .fit(trainLoader, testLoader, 0, 3);

    Module first = model();
    Sgd sgd2 = new Sgd(0.9, false, 5e-4);
    Path ck = tmp.resolve("run.ckpt");
    new Trainer(be, first, sgd2, lr, DType.FLOAT32, 7)
        .checkpointTo(ck)
        .fit(trainLoader, testLoader, 0, 1);
    Module resumed = model(); // a fresh process would start here
    Sgd sgd3 = new Sgd(0.9, false, 5e-4);
    Trainer t = new Trainer(be, resumed, sgd3, lr, DType.FLOAT32, 7);
    int next = t.resume(ck);
    assertEquals(1, next);
    List<EpochMetrics> rest = t.fit(trainLoader, testLoader, next, 3);
    for (int e = 1; e < 3; e++) {
      assertEquals(full.get(e).trainLoss(), rest.get(e - 1).trainLoss(), 0.0, "epoch " + (e + 1));
      assertEquals(full.get(e).testAccuracy(), rest.get(e - 1).testAccuracy(), 0.0);
    }
    List<String> lines = Files.readAllLines(csv);
    assertEquals(4, lines.size());
    assertTrue(lines.get(0).startsWith("epoch,lr,train_loss"));
    assertTrue(full.get(2).trainAccuracy() > 0.5, "learns the synthetic task: " + full);
  }

  @Test
  void nonFiniteLossStopsWithAMessageAndKeepsTheLastCheckpoint() throws Exception {
    ImageDataset train = synthetic(64, 3);
    DataLoader loader = new DataLoader(train, 16, true, Augmentation.cifarEvaluation(), 1);
    Module m = model();
    Path ck = tmp.resolve("good.ckpt");
    Trainer ok =
        new Trainer(
                be, m, new Sgd(0, false, 0), LearningRateSchedule.constant(0.01), DType.FLOAT32, 1)
            .checkpointTo(ck);
    ok.fit(loader, loader, 0, 1);
    long size = Files.size(ck);
    Trainer exploding =
        new Trainer(
                be, m, new Sgd(0, false, 0), LearningRateSchedule.constant(1e30), DType.FLOAT32, 1)
            .checkpointTo(ck);
    NonFiniteException e =
        assertThrows(NonFiniteException.class, () -> exploding.fit(loader, loader, 1, 3));
    assertTrue(e.getMessage().startsWith("epoch 2"), e.getMessage());
    assertEquals(size, Files.size(ck));
    try (TensorScope scope = TensorScope.open()) {
      assertEquals(0, Checkpoint.load(ck, be).epoch());
    }
  }
}
