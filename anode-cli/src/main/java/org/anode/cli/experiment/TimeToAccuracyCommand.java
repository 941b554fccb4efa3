package org.anode.cli.experiment;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.name.Names;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.cli.ModelOptions;
import org.anode.cli.RunConfig;
import org.anode.cli.TrainingModule;
import org.anode.data.Augmentation;
import org.anode.data.DataLoader;
import org.anode.nn.Module;
import org.anode.train.BudgetedTrainer;
import org.anode.train.Evaluation;
import org.anode.train.Optimizer;
import org.anode.train.TimeBudget;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code anode experiment time-to-accuracy}: the paper's comparison of gradient methods (§4, Figs.
 * 5–6) as accuracy against wall time. Every model × method trains with the same {@code --budget}
 * ({@link BudgetedTrainer}: the schedule planned into the budget, annealed to zero at its end),
 * from the same initial weights and the same data order. Every {@code --probe-every} seconds of
 * training the model is evaluated on a fixed sample of test images with the budget's clock paused
 * (the probes cost no method any training time); at the end the whole test set is evaluated, as
 * {@code anode train --time-budget} does. Beside each curve: the relative error of the method's
 * first gradient against store-all's, on one batch in float64 at the initial weights.
 */
@Command(
    name = "time-to-accuracy",
    mixinStandardHelpOptions = true,
    description =
        "Train each model with each gradient method for the same wall time; plot test accuracy"
            + " against time.")
public final class TimeToAccuracyCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(
      names = "--models",
      defaultValue = "resnet,sqnxt",
      split = ",",
      description = "Models (default: ${DEFAULT-VALUE})")
  List<String> models;

  @Option(
      names = "--methods",
      defaultValue = "anode,store-all,revolve:2,adjoint,reversible@alf",
      split = ",",
      description =
          "Methods, each as method or method@solver (the solver then replacing --solver for that"
              + " run) (default: ${DEFAULT-VALUE})")
  List<String> methods;

  @Option(
      names = "--budget",
      defaultValue = "2m",
      description = "Training time of each run, such as 2m (default: ${DEFAULT-VALUE})")
  String budget;

  @Option(
      names = "--probe-every",
      defaultValue = "20",
      description = "Seconds of training between two probes (default: ${DEFAULT-VALUE})")
  double probeEvery;

  @Option(
      names = "--probe-images",
      defaultValue = "1000",
      description = "Test images each probe evaluates (default: ${DEFAULT-VALUE})")
  int probeImages;

  @Option(
      names = "--train-limit",
      defaultValue = "0",
      description = "Training images (default: all)")
  int trainLimit;

  @Option(
      names = "--lr",
      defaultValue = "0.05",
      description = "Peak learning rate (default: ${DEFAULT-VALUE})")
  double lr;

  @Option(
      names = "--label-smoothing",
      defaultValue = "0",
      description = "Label smoothing ε (default: ${DEFAULT-VALUE})")
  double labelSmoothing;

  @Option(
      names = "--out",
      defaultValue = "time-to-accuracy",
      description = "Output folder (default: ${DEFAULT-VALUE})")
  Path out;

  /** One point of a curve: seconds of training, accuracy, on which images. */
  record Point(double seconds, double accuracy, String set) {}

  /** One model × method run. */
  record Run(
      String model,
      String method,
      String solver,
      List<Point> curve,
      int steps,
      double imagesPerSecond,
      double finalAccuracy,
      double peakLiveMiB,
      double gradientError) {}

  @Override
  public Integer call() throws Exception {
    var budgetLength = TimeBudget.parse(budget);
    if (!(probeEvery > 0)) {
      throw new IllegalArgumentException("--probe-every must be positive, got " + probeEvery);
    }
    RunConfig.Optimization opt =
        new RunConfig.Optimization(
            1, trainLimit, lr, "cosine", "sgd", 0.9, true, 5e-4, 0, labelSmoothing, false);
    List<Run> runs = new ArrayList<>();
    for (String m : models) {
      DataLoader[] data = null; // loaded once per model, shared by its methods
      Map<String, double[]> reference = new LinkedHashMap<>(); // store-all's, by solver
      for (String method : methods) {
        int at = method.indexOf('@');
        String name = at < 0 ? method : method.substring(0, at);
        String solver = at < 0 ? model.config(opt).solver() : method.substring(at + 1);
        RunConfig config = model.config(opt, m, name, solver);
        Injector injector = Guice.createInjector(new TrainingModule(config));
        Backend be = injector.getInstance(Backend.class);
        if (data == null) {
          DataLoader train = injector.getInstance(Key.get(DataLoader.class, Names.named("train")));
          DataLoader test = injector.getInstance(Key.get(DataLoader.class, Names.named("test")));
          DataLoader probe =
              new DataLoader(
                  test.data().sample(probeImages, config.seed()),
                  config.batch(),
                  false,
                  Augmentation.cifarEvaluation(),
                  config.seed());
          data = new DataLoader[] {train, test, probe};
        }
        double error =
            GradientAgreement.relativeError(
                config.withDtype(DType.FLOAT64), be, data[0], reference);
        Run r = train(config, injector, be, data, budgetLength, m, method, error);
        runs.add(r);
        System.out.printf(
            Locale.ROOT,
            "%s %s: %d steps, %.0f img/s, test accuracy %.2f%% at %.0f s; live %.1f MiB;"
                + " gradient vs store-all %s%n",
            m,
            method,
            r.steps(),
            r.imagesPerSecond(),
            100 * r.finalAccuracy(),
            r.curve().get(r.curve().size() - 1).seconds(),
            r.peakLiveMiB(),
            Double.isNaN(error) ? "—" : String.format(Locale.ROOT, "%.1e", error));
      }
    }
    write(runs);
    return 0;
  }

  private Run train(
      RunConfig config,
      Injector injector,
      Backend be,
      DataLoader[] data,
      java.time.Duration length,
      String m,
      String method,
      double error)
      throws java.io.IOException {
    Module net = injector.getInstance(Module.class);
    Optimizer optimizer = injector.getInstance(Optimizer.class);
    DType dtype = injector.getInstance(DType.class);
    PausableClock clock = new PausableClock();
    TimeBudget b = new TimeBudget(length, clock);
    List<Point> curve = new ArrayList<>();
    double[] nextProbe = {probeEvery};
    BudgetedTrainer trainer =
        new BudgetedTrainer(be, net, optimizer, dtype, config.seed())
            .labelSmoothing(labelSmoothing);
    BudgetedTrainer.Result r =
        trainer.fit(
            data[0],
            data[1],
            b,
            lr,
            null,
            Map.of(),
            new BudgetedTrainer.Listener() {
              @Override
              public void stepDone(int steps, double rate) {
                double t = b.elapsed();
                if (t >= nextProbe[0]) {
                  clock.pause();
                  double[] e = Evaluation.run(be, net, dtype, data[2]);
                  curve.add(new Point(t, e[1], "probe"));
                  clock.resume();
                  nextProbe[0] = t + probeEvery;
                }
              }
            });
    var metrics = r.metrics();
    curve.add(new Point(metrics.seconds(), metrics.testAccuracy(), "test"));
    net.close();
    return new Run(
        m,
        method,
        config.solver(),
        curve,
        r.steps(),
        metrics.imagesPerSecond(),
        metrics.testAccuracy(),
        metrics.peakLiveBytes() / 1048576.0,
        error);
  }

  private void write(List<Run> runs) throws java.io.IOException {
    Files.createDirectories(out);
    List<String> curves = new ArrayList<>();
    curves.add("model,method,solver,seconds,accuracy,evaluated_on");
    List<String> summary = new ArrayList<>();
    summary.add(
        "model,method,solver,steps,images_per_second,test_accuracy,peak_live_mib,"
            + "gradient_rel_error_vs_store_all");
    Map<String, List<Charts.Series>> byModel = new LinkedHashMap<>();
    for (Run r : runs) {
      for (Point p : r.curve()) {
        curves.add(
            String.format(
                Locale.ROOT,
                "%s,%s,%s,%.2f,%.4f,%s",
                r.model(),
                r.method(),
                r.solver(),
                p.seconds(),
                p.accuracy(),
                p.set()));
      }
      summary.add(
          String.format(
              Locale.ROOT,
              "%s,%s,%s,%d,%.1f,%.4f,%.1f,%.3e",
              r.model(),
              r.method(),
              r.solver(),
              r.steps(),
              r.imagesPerSecond(),
              r.finalAccuracy(),
              r.peakLiveMiB(),
              r.gradientError()));
      byModel
          .computeIfAbsent(r.model(), k -> new ArrayList<>())
          .add(
              new Charts.Series(
                  r.method(),
                  r.curve().stream().mapToDouble(Point::seconds).toArray(),
                  r.curve().stream().mapToDouble(p -> 100 * p.accuracy()).toArray()));
    }
    Files.write(out.resolve("time-to-accuracy.csv"), curves);
    Files.write(out.resolve("time-to-accuracy-summary.csv"), summary);
    for (var e : byModel.entrySet()) {
      Charts.lines(
          out.resolve("time-to-accuracy-" + e.getKey() + ".png"),
          "Test accuracy against training time, " + e.getKey() + " (" + budget + " per method)",
          "training time (s)",
          "test accuracy (%)",
          false,
          false,
          e.getValue());
    }
    System.out.println(
        "wrote "
            + out.resolve("time-to-accuracy.csv")
            + ", time-to-accuracy-summary.csv, time-to-accuracy-<model>.png");
  }
}
