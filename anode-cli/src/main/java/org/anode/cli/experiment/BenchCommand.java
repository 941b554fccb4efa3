package org.anode.cli.experiment;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.LiveMemory;
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
import org.anode.nn.Sequential;
import org.anode.ode.MemoryBudget;
import org.anode.ode.OdeBlock;
import org.anode.ode.Stepping;
import org.anode.ode.VectorField;
import org.anode.train.Sgd;
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
      description = "Untimed steps first (default: ${DEFAULT-VALUE})")
  int warmup;

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

  /** One measured configuration. */
  public record Result(
      String backend,
      String solver,
      int steps,
      String method,
      double seconds,
      long peakSavedBytes,
      long peakLiveBytes,
      long predictedBytes,
      long peakRssBytes,
      double forwardEvaluations,
      double backwardEvaluations,
      double timeRatio,
      double bytesRatio) {

    /** The fields under the names of the CSV and JSON outputs, in their order. */
    Map<String, Object> fields() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("backend", backend);
      m.put("solver", solver);
      m.put("nt", steps);
      m.put("method", method);
      m.put("step_seconds", seconds);
      m.put("time_ratio_to_store_all", timeRatio);
      m.put("peak_saved_bytes", peakSavedBytes);
      m.put("peak_live_bytes", peakLiveBytes);
      m.put("predicted_bytes", predictedBytes);
      m.put("bytes_ratio_to_store_all", bytesRatio);
      m.put("peak_rss_bytes", peakRssBytes);
      m.put("f_evals_forward", forwardEvaluations);
      m.put("f_evals_backward", backwardEvaluations);
      return m;
    }

    /** This result with its time and saved-bytes ratios to {@code base}'s. */
    Result relativeTo(Result base) {
      return new Result(
          backend,
          solver,
          steps,
          method,
          seconds,
          peakSavedBytes,
          peakLiveBytes,
          predictedBytes,
          peakRssBytes,
          forwardEvaluations,
          backwardEvaluations,
          seconds / base.seconds,
          (double) peakSavedBytes / base.peakSavedBytes);
    }
  }

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

  static long rss(String field) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return -1;
  }

  static void resetPeakRss() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    } catch (IOException | RuntimeException e) {
      // Not resettable here: the peak then covers the process so far.
    }
  }

  /**
   * {@link MemoryBudget}'s predicted peak bytes per method for this configuration (the adjoint has
   * none); the same for every method, so asked once.
   */
  Map<String, Long> predictions(Backend be, String solver, int nt) {
    Map<String, Long> out = new LinkedHashMap<>();
    try (Module net = build(be, solver, nt, "store-all")) {
      for (MemoryBudget.Option o :
          MemoryBudget.advise(net, be, inputShape(), DType.FLOAT32, Long.MAX_VALUE).considered()) {
        out.put(o.method(), o.predictedBytes());
      }
    }
    return out;
  }

  /** Times one method; {@code predicted} is its predicted peak bytes, or -1. */
  Result measure(Backend be, String solver, int nt, String methodName, long predicted)
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
    resetPeakRss();
    for (int i = 0; i < warmup + repeats; i++) {
      if (i == warmup) {
        odeBlocks.forEach(OdeBlock::resetCounters);
      }
      MemoryMeter meter = new MemoryMeter();
      long liveBefore = LiveMemory.currentBytes();
      LiveMemory.resetPeak();
      long t0 = System.nanoTime();
      try (TensorScope scope = TensorScope.open();
          Tape tape = Tape.record(meter)) {
        Tensor xt = be.fromArray(x, in);
        Variable y = net.forward(Variable.constant(xt));
        Variable loss = model.equals("stack") ? Ops.mean(y, false) : CrossEntropyLoss.of(y, labels);
        // The step reads the network's output no more: freed now (the mean saves nothing), as
        // every intermediate is, so that live bytes count what the step needs.
        Tape.releaseIntermediate(y.value());
        tape.backward(loss);
        sgd.step(net.parameters(), 0.01);
        net.zeroGrad();
        loss.value().item(); // wait for the result
      }
      if (i >= warmup) {
        times[i - warmup] = System.nanoTime() - t0;
        peak = Math.max(peak, meter.peakBytes());
        livePeak = Math.max(livePeak, LiveMemory.peakBytes() - liveBefore);
      }
    }
    long rssPeak = rss("VmHWM");
    double fwd = 0;
    double bwd = 0;
    for (OdeBlock b : odeBlocks) {
      fwd += (double) b.forwardEvaluations() / repeats;
      bwd += (double) b.backwardEvaluations() / repeats;
    }
    sgd.close();
    net.close();
    Arrays.sort(times);
    return new Result(
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
    if (threads > 0) {
      System.setProperty(BackendOptions.THREADS_PROPERTY, Integer.toString(threads));
    }
    if (row) {
      Result r =
          measure(Backends.get(backends.get(0)), solvers.get(0), steps.get(0), methods.get(0), -1);
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
    List<Result> results = new ArrayList<>();
    System.out.printf(
        "%s, batch %d, %d×%d, float32, %d warm-up + %d timed steps (median)%n",
        model.equals("stack")
            ? blocks + " ODE blocks of conv3×3-ReLU-conv3×3 at " + channels + " channels"
            : model + " width " + width,
        batch,
        size,
        size,
        warmup,
        repeats);
    System.out.printf(
        "%-16s %-6s %4s %-10s %9s %8s %11s %10s %11s %8s %9s %9s %9s%n",
        "backend",
        "solver",
        "N_t",
        "method",
        "step (s)",
        "×store",
        "saved MiB",
        "live MiB",
        "predicted",
        "×store",
        "RSS MiB",
        "f fwd",
        "f bwd");
    for (String name : names) {
      Backend be = Backends.get(name);
      for (String solver : solvers) {
        for (int nt : steps) {
          Map<String, Long> predicted = predictions(be, solver, nt);
          Result base = null;
          for (String m : methods) {
            long p = predicted.getOrDefault(m, -1L);
            Result r =
                sameJvm ? measure(be, solver, nt, m, p) : measureInFreshJvm(name, solver, nt, m, p);
            if (m.equals("store-all")) {
              base = r;
            }
            if (base != null) {
              r = r.relativeTo(base);
            }
            results.add(r);
            printRow(r);
          }
        }
      }
    }
    if (reference != null) {
      for (Result r : referenceResults()) {
        results.add(r);
        printRow(r);
      }
    }
    write(results);
    return 0;
  }

  /** {@link #measure} in a fresh JVM ({@link FreshJvm}): the same options, one configuration. */
  Result measureInFreshJvm(String backend, String solver, int nt, String method, long predicted)
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
                "--repeats",
                Integer.toString(repeats),
                "--threads",
                Integer.toString(threads)));
    String[] f = FreshJvm.run(args);
    return new Result(
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

  /**
   * The PyTorch reference, run by {@link #reference} from this class's resource {@code
   * anode_reference.py} on the same configuration: backend {@code pytorch VERSION}, store-all and
   * anode. Saved bytes are not measured there (-1). A failure is reported and yields no rows.
   */
  List<Result> referenceResults() throws IOException, InterruptedException {
    List<Result> rows = new ArrayList<>();
    if (!model.equals("stack") || !solvers.contains("euler")) {
      System.err.println("anode bench --reference: only for --model stack with the euler solver");
      return rows;
    }
    List<String> wanted =
        methods.stream().filter(m -> m.equals("store-all") || m.equals("anode")).toList();
    Path script = Files.createTempFile("anode_reference", ".py");
    try (InputStream in = BenchCommand.class.getResourceAsStream("anode_reference.py")) {
      Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    try {
      for (int nt : steps) {
        List<String> cmd =
            new ArrayList<>(
                List.of(
                    reference,
                    script.toString(),
                    "--csv",
                    "--threads",
                    Integer.toString(threads),
                    "--blocks",
                    Integer.toString(blocks),
                    "--channels",
                    Integer.toString(channels),
                    "--batch",
                    Integer.toString(batch),
                    "--size",
                    Integer.toString(size),
                    "--nt",
                    Integer.toString(nt),
                    "--warmup",
                    Integer.toString(warmup),
                    "--repeats",
                    Integer.toString(repeats),
                    "--methods",
                    String.join(",", wanted)));
        rows.addAll(runReference(cmd, nt));
      }
    } finally {
      Files.deleteIfExists(script);
    }
    return rows;
  }

  private static List<Result> runReference(List<String> cmd, int nt)
      throws IOException, InterruptedException {
    List<Result> rows = new ArrayList<>();
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    } catch (IOException e) {
      System.err.println(
          "anode bench --reference: cannot run " + cmd.get(0) + ": " + e.getMessage());
      return rows;
    }
    List<String> lines = new String(p.getInputStream().readAllBytes()).lines().toList();
    int exit = p.waitFor();
    String version = null;
    Result base = null;
    for (String line : lines) {
      String[] f = line.split(",");
      if (f.length == 2 && f[0].equals("torch")) {
        version = f[1];
      } else if (version != null && f.length == 5) {
        double seconds = Double.parseDouble(f[1]);
        boolean isBase = f[0].equals("store-all");
        double ratio = isBase ? 1.0 : base == null ? Double.NaN : seconds / base.seconds();
        Result r =
            new Result(
                "pytorch " + version,
                "euler",
                nt,
                f[0],
                seconds,
                -1,
                -1,
                -1,
                Long.parseLong(f[2]),
                Double.parseDouble(f[3]),
                Double.parseDouble(f[4]),
                ratio,
                Double.NaN);
        if (isBase) {
          base = r;
        }
        rows.add(r);
      }
    }
    if (exit != 0 || version == null) {
      int from = Math.max(0, lines.size() - 5);
      System.err.println(
          "anode bench --reference: "
              + String.join(" ", cmd.subList(0, 2))
              + " exited with "
              + exit
              + (lines.isEmpty()
                  ? ""
                  : ":\n  " + String.join("\n  ", lines.subList(from, lines.size()))));
      return List.of();
    }
    return rows;
  }

  private static void printRow(Result r) {
    System.out.printf(
        Locale.ROOT,
        "%-16s %-6s %4d %-10s %9.3f %8.2f %11s %10s %11s %8s %9.0f %9.1f %9.1f%n",
        r.backend(),
        r.solver(),
        r.steps(),
        r.method(),
        r.seconds(),
        r.timeRatio(),
        mib(r.peakSavedBytes()),
        mib(r.peakLiveBytes()),
        mib(r.predictedBytes()),
        Double.isNaN(r.bytesRatio()) ? "n/a" : String.format(Locale.ROOT, "%.2f", r.bytesRatio()),
        r.peakRssBytes() / 1048576.0,
        r.forwardEvaluations(),
        r.backwardEvaluations());
  }

  private static String mib(long bytes) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", bytes / 1048576.0);
  }

  private void write(List<Result> results) throws IOException {
    Files.createDirectories(out);
    List<String> csv = new ArrayList<>();
    csv.add(
        "backend,solver,nt,method,step_seconds,time_ratio_to_store_all,peak_saved_bytes,peak_live_bytes,predicted_bytes,bytes_ratio_to_store_all,peak_rss_bytes,f_evals_forward,f_evals_backward");
    List<Map<String, Object>> rows = new ArrayList<>();
    for (Result r : results) {
      csv.add(
          String.format(
              Locale.ROOT,
              "%s,%s,%d,%s,%.6f,%.4f,%d,%d,%d,%.4f,%d,%.1f,%.1f",
              r.backend(),
              r.solver(),
              r.steps(),
              r.method(),
              r.seconds(),
              r.timeRatio(),
              r.peakSavedBytes(),
              r.peakLiveBytes(),
              r.predictedBytes(),
              r.bytesRatio(),
              r.peakRssBytes(),
              r.forwardEvaluations(),
              r.backwardEvaluations()));
      rows.add(r.fields());
    }
    Files.write(out.resolve("bench.csv"), csv);
    new com.fasterxml.jackson.databind.ObjectMapper()
        .writerWithDefaultPrettyPrinter()
        .writeValue(out.resolve("bench.json").toFile(), rows);
    List<String> groups = new ArrayList<>();
    Map<String, List<Double>> time = new LinkedHashMap<>();
    Map<String, List<Double>> memory = new LinkedHashMap<>();
    for (Result r : results) {
      String g = r.backend() + " " + r.solver() + " N_t=" + r.steps();
      if (!groups.contains(g)) {
        groups.add(g);
      }
    }
    for (String m : methods) {
      List<Double> t = new ArrayList<>();
      List<Double> b = new ArrayList<>();
      for (String g : groups) {
        Result found = null;
        for (Result r : results) {
          if (r.method().equals(m)
              && g.equals(r.backend() + " " + r.solver() + " N_t=" + r.steps())) {
            found = r;
          }
        }
        t.add(found == null ? 0.0 : found.seconds());
        b.add(found == null ? 0.0 : Math.max(0, found.peakSavedBytes()) / 1048576.0);
      }
      time.put(m, t);
      memory.put(m, b);
    }
    Charts.bars(out.resolve("bench-time.png"), "Training step time", "seconds", groups, time);
    Charts.bars(
        out.resolve("bench-memory.png"), "Peak saved bytes of the tape", "MiB", groups, memory);
    System.out.println(
        "wrote " + out.resolve("bench.csv") + ", bench.json, bench-time.png, bench-memory.png");
  }
}
