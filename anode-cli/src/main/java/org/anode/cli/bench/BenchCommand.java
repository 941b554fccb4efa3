package org.anode.cli.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.ResidentMemory;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.cli.Choices;
import org.anode.models.OdeResNet;
import org.anode.models.OdeSettings;
import org.anode.models.OdeSqueezeNext;
import org.anode.nn.Conv2d;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Module;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Recomputation;
import org.anode.nn.Sequential;
import org.anode.ode.MemoryBudget;
import org.anode.ode.OdeBlock;
import org.anode.ode.Stepping;
import org.anode.ode.VectorField;
import org.anode.train.Sgd;
import org.anode.train.TrainingStep;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code anode bench}: the ANODE paper's second claim, measured. For each backend × solver × N_t ×
 * gradient method: median time of a training step (forward, backward, SGD update) after warm-up,
 * the tape's peak saved bytes beside {@link MemoryBudget}'s prediction, the process's peak resident
 * memory, and f evaluations per step; ratios to store-all within the same run.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Time and memory per training step for each gradient method, backend and solver.")
public final class BenchCommand implements Callable<Integer> {
  /** Calls timed for one convolution's throughput alone, beside the stack's step. */
  private static final int PEAK_CALLS = 20;

  @Option(
      names = "--model",
      defaultValue = "stack",
      description =
          "stack (L ODE blocks conv3×3-ReLU-conv3×3), resnet or sqnxt (default: ${DEFAULT-VALUE})")
  String model;

  @Option(
      names = "--channels",
      defaultValue = "64",
      description = "stack: channels (default: ${DEFAULT-VALUE})")
  int channels;

  @Option(
      names = "--blocks",
      defaultValue = "3",
      description = "stack: ODE blocks L (default: ${DEFAULT-VALUE})")
  int blocks;

  @Option(
      names = "--width",
      defaultValue = "0.25",
      description = "resnet/sqnxt: width multiplier (default: ${DEFAULT-VALUE})")
  double width;

  @Option(names = "--batch", defaultValue = "32", description = "Batch (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(
      names = "--size",
      defaultValue = "32",
      description = "Image height and width (default: ${DEFAULT-VALUE})")
  int size;

  @Option(
      names = "--nt",
      defaultValue = "8",
      split = ",",
      description = "Steps N_t (default: ${DEFAULT-VALUE})")
  List<Integer> steps;

  @Option(
      names = "--solvers",
      defaultValue = "euler",
      split = ",",
      description = "Solvers (default: ${DEFAULT-VALUE})")
  List<String> solvers;

  @Option(
      names = "--methods",
      defaultValue = "store-all,anode,revolve:2,adjoint",
      split = ",",
      description = "Methods (default: ${DEFAULT-VALUE})")
  List<String> methods;

  @Option(
      names = "--backends",
      split = ",",
      description = "Backends (default: every one that can run)")
  List<String> backends;

  @Option(
      names = "--warmup",
      defaultValue = "1",
      description = "Untimed steps first, at least (default: ${DEFAULT-VALUE})")
  int warmup;

  @Option(
      names = "--warmup-seconds",
      defaultValue = "5",
      description =
          "Untimed steps go on until this much time has passed too, so that the timed ones find"
              + " the JVM's JIT compilers done (on 2 cores they take CPU from the kernels for the"
              + " first few seconds); the PyTorch reference warms up by the same rule (default:"
              + " ${DEFAULT-VALUE})")
  double warmupSeconds;

  @Option(
      names = "--repeats",
      defaultValue = "3",
      description = "Timed steps; the median is reported (default: ${DEFAULT-VALUE})")
  int repeats;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "Kernel threads (default: the library's)")
  int threads;

  @Option(
      names = "--reference",
      paramLabel = "PYTHON",
      description =
          "Also time the PyTorch reference of the stack model (Euler; store-all, and ANODE as"
              + " torch.utils.checkpoint per block) with this Python interpreter, such as python3;"
              + " it needs torch")
  String reference;

  @Option(
      names = "--same-jvm",
      description =
          "Measure every configuration in this JVM (faster; its peak RSS then includes what earlier"
              + " rows left resident). By default each one runs in a fresh JVM.")
  boolean sameJvm;

  /** Child mode of a fresh-JVM run: measure the one configuration, print it as one line. */
  @Option(names = "--row", hidden = true)
  boolean row;

  @Option(
      names = "--out",
      defaultValue = "bench",
      description = "Output folder (default: ${DEFAULT-VALUE})")
  Path out;

  Module build(Backend be, String solver, int nt, String methodName) {
    ParameterFactory f = new ParameterFactory(be, DType.FLOAT32, 11);
    OdeSettings ode =
        new OdeSettings(
            Choices.solver(solver), Stepping.fixed(nt), 1.0, Choices.method(methodName));
    return switch (model) {
      case "stack" -> {
        List<Module> layers = new ArrayList<>();
        for (int l = 0; l < blocks; l++) {
          layers.add(
              ode.block(
                  VectorField.autonomous(
                      new Sequential(
                          new Conv2d(f, channels, channels, 3, Conv2dSpec.of(1, 1), false),
                          new ReLU(),
                          new Conv2d(f, channels, channels, 3, Conv2dSpec.of(1, 1), false)))));
        }
        yield new Sequential(layers);
      }
      case "resnet" -> new OdeResNet(f, 10, width, new int[] {1, 1, 1, 1}, ode);
      case "sqnxt" -> new OdeSqueezeNext(f, 10, width, new int[] {1, 1, 1, 1}, ode);
      default ->
          throw new IllegalArgumentException("--model: stack, resnet or sqnxt, got " + model);
    };
  }

  Shape inputShape() {
    return Shape.of(batch, model.equals("stack") ? channels : 3, size, size);
  }

  /**
   * {@link MemoryBudget}'s predicted peak bytes per method for this configuration (the adjoint has
   * none); the same for every method, so asked once.
   */
  Map<String, Long> predictions(Backend be, String solver, int nt) {
    Map<String, Long> out = new LinkedHashMap<>();
    try (Module net = build(be, solver, nt, "store-all")) {
      long lossBytes = lossSavedBytes(be, net);
      for (MemoryBudget.Option o :
          MemoryBudget.advise(net, be, inputShape(), DType.FLOAT32, Long.MAX_VALUE, lossBytes)
              .considered()) {
        out.put(o.method(), o.predictedBytes());
      }
    }
    return out;
  }

  /** What {@link #loss} saves on the tape for {@code net}'s output on a zero input. */
  private long lossSavedBytes(Backend be, Module net) {
    try (TensorScope scope = TensorScope.open();
        Recomputation r = Recomputation.begin()) {
      Tensor y = net.forward(Variable.constant(be.zeros(inputShape(), DType.FLOAT32))).value();
      MemoryMeter meter = new MemoryMeter();
      try (Tape tape = Tape.record(meter)) {
        loss(Variable.leaf(y), new int[batch]);
        return meter.currentBytes();
      }
    }
  }

  /**
   * The bench's loss: cross-entropy for the classifiers; for the stack, ½·mean(y²), bounded below
   * (a plain mean is not, and a few SGD steps drive it to −∞).
   */
  private Variable loss(Variable y, int[] labels) {
    return model.equals("stack")
        ? Ops.mulScalar(Ops.mean(Ops.square(y), false), 0.5)
        : CrossEntropyLoss.of(y, labels);
  }

  /** Times one method; {@code predicted} is its predicted peak bytes, or -1. */
  BenchResult measure(Backend be, String solver, int nt, String methodName, long predicted)
      throws IOException {
    Module net = build(be, solver, nt, methodName);
    Shape in = inputShape();
    SplittableRandom rng = new SplittableRandom(3);
    float[] x = new float[(int) in.numel()];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rng.nextDouble(-1, 1);
    }
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) {
      labels[i] = rng.nextInt(10);
    }
    Sgd sgd = new Sgd(0.9, false, 5e-4);
    List<OdeBlock> odeBlocks = MemoryBudget.blocks(net);
    long[] times = new long[repeats];
    long peak = 0;
    long livePeak = 0;
    ResidentMemory.resetPeak();
    TrainingStep step = new TrainingStep(net, sgd);
    long warmupEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
    int warm = 0;
    for (int i = 0; warm < repeats; i++) {
      boolean timed = i >= warmup && System.nanoTime() >= warmupEnd;
      if (timed && warm == 0) {
        odeBlocks.forEach(OdeBlock::resetCounters);
      }
      long t0 = System.nanoTime();
      TrainingStep.Outcome o =
          step.run(
              () -> be.fromArray(x, in),
              y -> loss(y, labels),
              0.01,
              "bench step " + (i + 1),
              new TrainingStep.Checks() {});
      if (timed) {
        times[warm++] = System.nanoTime() - t0;
        peak = Math.max(peak, o.peakSavedBytes());
        livePeak = Math.max(livePeak, o.peakLiveBytes());
      }
    }
    long rssPeak = ResidentMemory.peakBytes();
    double fwd = 0;
    double bwd = 0;
    for (OdeBlock b : odeBlocks) {
      fwd += (double) b.forwardEvaluations() / repeats;
      bwd += (double) b.backwardEvaluations() / repeats;
    }
    sgd.close();
    net.close();
    Arrays.sort(times);
    return new BenchResult(
        be.name(),
        solver,
        nt,
        methodName,
        times[repeats / 2] / 1e9,
        peak,
        livePeak,
        predicted,
        rssPeak,
        fwd,
        bwd,
        Double.NaN,
        Double.NaN);
  }

  @Override
  public Integer call() throws Exception {
    BackendOptions options = threads > 0 ? new BackendOptions(threads) : null;
    if (row) {
      BenchResult r =
          measure(
              Backends.get(backends.get(0), options),
              solvers.get(0),
              steps.get(0),
              methods.get(0),
              -1);
      System.out.printf(
          java.util.Locale.ROOT,
          "%s,%.6f,%d,%d,%d,%.3f,%.3f%n",
          FreshJvm.MARK,
          r.seconds(),
          r.peakSavedBytes(),
          r.peakLiveBytes(),
          r.peakRssBytes(),
          r.forwardEvaluations(),
          r.backwardEvaluations());
      return 0;
    }
    List<String> names = new ArrayList<>();
    if (backends == null || backends.isEmpty()) {
      for (Backends.Found f : Backends.discover()) {
        if (f.availability().available()) {
          names.add(f.provider().name());
        }
      }
    } else {
      names.addAll(backends);
    }
    List<BenchResult> results = new ArrayList<>();
    BenchReport.printHeader(
        String.format(
            "%s, batch %d, %d×%d, float32, warm-up of %d steps and %.0f s, %d timed steps"
                + " (median)",
            model.equals("stack")
                ? blocks + " ODE blocks of conv3×3-ReLU-conv3×3 at " + channels + " channels"
                : model + " width " + width,
            batch,
            size,
            size,
            warmup,
            warmupSeconds,
            repeats));
    Map<String, Double> peaks = new LinkedHashMap<>();
    for (String name : names) {
      Backend be = Backends.get(name, options);
      if (model.equals("stack")) {
        peaks.put(name, ConvolutionThroughput.measurePeak(be, batch, channels, size, PEAK_CALLS));
      }
      for (String solver : solvers) {
        for (int nt : steps) {
          Map<String, Long> predicted = predictions(be, solver, nt);
          BenchResult base = null;
          for (String m : methods) {
            long p = predicted.getOrDefault(m, -1L);
            BenchResult r =
                sameJvm ? measure(be, solver, nt, m, p) : measureInFreshJvm(name, solver, nt, m, p);
            if (m.equals("store-all")) {
              base = r;
            }
            if (base != null) {
              r = r.relativeTo(base);
            }
            results.add(r);
            BenchReport.printRow(r);
          }
        }
      }
    }
    if (reference != null) {
      for (BenchResult r : PytorchReference.run(reference, this)) {
        results.add(r);
        BenchReport.printRow(r);
      }
    }
    if (model.equals("stack")) {
      ConvolutionThroughput.print(results, peaks, PEAK_CALLS, batch, channels, size);
    }
    BenchReport.write(out, methods, results);
    return 0;
  }

  /** {@link #measure} in a fresh JVM ({@link FreshJvm}): the same options, one configuration. */
  BenchResult measureInFreshJvm(
      String backend, String solver, int nt, String method, long predicted)
      throws IOException, InterruptedException {
    List<String> args =
        new ArrayList<>(
            List.of(
                "bench",
                "--row",
                "--model",
                model,
                "--channels",
                Integer.toString(channels),
                "--blocks",
                Integer.toString(blocks),
                "--width",
                Double.toString(width),
                "--batch",
                Integer.toString(batch),
                "--size",
                Integer.toString(size),
                "--nt",
                Integer.toString(nt),
                "--solvers",
                solver,
                "--methods",
                method,
                "--backends",
                backend,
                "--warmup",
                Integer.toString(warmup),
                "--warmup-seconds",
                Double.toString(warmupSeconds),
                "--repeats",
                Integer.toString(repeats),
                "--threads",
                Integer.toString(threads)));
    String[] f = FreshJvm.run(args);
    return new BenchResult(
        backend,
        solver,
        nt,
        method,
        Double.parseDouble(f[0]),
        Long.parseLong(f[1]),
        Long.parseLong(f[2]),
        predicted,
        Long.parseLong(f[3]),
        Double.parseDouble(f[4]),
        Double.parseDouble(f[5]),
        Double.NaN,
        Double.NaN);
  }
}
