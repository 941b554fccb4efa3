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
import org.anode.data.DataLoader;
import org.anode.nn.Module;
import org.anode.train.EpochMetrics;
import org.anode.train.LearningRateSchedule;
import org.anode.train.Optimizer;
import org.anode.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code anode experiment training-curves}: the same model trained with ANODE and with the adjoint,
 * train loss and test accuracy per epoch on one chart each (the paper's Fig. 5, in small).
 */
@Command(
    name = "training-curves",
    mixinStandardHelpOptions = true,
    description =
        "Train one model with ANODE and with the adjoint; plot loss and accuracy per epoch.")
public final class TrainingCurvesCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(
      names = "--methods",
      defaultValue = "anode,adjoint",
      split = ",",
      description =
          "Methods to compare, each as method or method@solver (such as reversible@alf), the"
              + " solver then replacing --solver for that run (default: ${DEFAULT-VALUE})")
  List<String> methods;

  @Option(
      names = "--epochs",
      defaultValue = "3",
      description = "Epochs (default: ${DEFAULT-VALUE})")
  int epochs;

  @Option(
      names = "--train-limit",
      defaultValue = "5000",
      description = "Training images (default: ${DEFAULT-VALUE})")
  int trainLimit;

  @Option(
      names = "--lr",
      defaultValue = "0.05",
      description = "Base learning rate, cosine schedule (default: ${DEFAULT-VALUE})")
  double lr;

  @Option(
      names = "--out",
      defaultValue = "training-curves",
      description = "Output folder (default: ${DEFAULT-VALUE})")
  Path out;

  @Override
  public Integer call() throws Exception {
    Map<String, List<EpochMetrics>> runs = new LinkedHashMap<>();
    RunConfig.Optimization cosine =
        new RunConfig.Optimization(
            epochs, trainLimit, lr, "cosine", "sgd", 0.9, false, 5e-4, 0, 0.0, false);
    RunConfig base = model.config(cosine);
    for (String method : methods) {
      // "method@solver" trains that run with another solver than --solver.
      int at = method.indexOf('@');
      RunConfig config =
          model.config(
              cosine,
              at < 0 ? method : method.substring(0, at),
              at < 0 ? base.solver() : method.substring(at + 1));
      Injector injector = Guice.createInjector(new TrainingModule(config));
      Backend be = injector.getInstance(Backend.class);
      Module net = injector.getInstance(Module.class);
      DataLoader train = injector.getInstance(Key.get(DataLoader.class, Names.named("train")));
      DataLoader test = injector.getInstance(Key.get(DataLoader.class, Names.named("test")));
      System.out.printf(
          "%s: %s, %s × N_t=%d, %,d training and %,d test images on %s%n",
          method,
          config.model(),
          config.solver(),
          config.nt(),
          train.data().size(),
          test.data().size(),
          be.name());
      Trainer trainer =
          new Trainer(
              be,
              net,
              injector.getInstance(Optimizer.class),
              injector.getInstance(LearningRateSchedule.class),
              injector.getInstance(DType.class),
              config.seed());
      List<EpochMetrics> metrics = new ArrayList<>();
      for (int e = 0; e < epochs; e++) {
        EpochMetrics m = trainer.fit(train, test, e, e + 1).get(0);
        metrics.add(m);
        System.out.printf(
            Locale.ROOT,
            "  epoch %d: train loss %.4f, test accuracy %.2f%%, %.1f s%n",
            m.epoch(),
            m.trainLoss(),
            100 * m.testAccuracy(),
            m.seconds());
      }
      runs.put(method, metrics);
      net.close();
    }
    Files.createDirectories(out);
    List<String> csv = new ArrayList<>();
    csv.add("method,epoch,train_loss,train_acc,test_loss,test_acc,seconds");
    List<Charts.Series> loss = new ArrayList<>();
    List<Charts.Series> accuracy = new ArrayList<>();
    for (var e : runs.entrySet()) {
      double[] x = e.getValue().stream().mapToDouble(EpochMetrics::epoch).toArray();
      loss.add(
          new Charts.Series(
              e.getKey(), x, e.getValue().stream().mapToDouble(EpochMetrics::trainLoss).toArray()));
      accuracy.add(
          new Charts.Series(
              e.getKey(),
              x,
              e.getValue().stream().mapToDouble(m -> 100 * m.testAccuracy()).toArray()));
      for (EpochMetrics m : e.getValue()) {
        csv.add(
            String.format(
                Locale.ROOT,
                "%s,%d,%.6f,%.6f,%.6f,%.6f,%.3f",
                e.getKey(),
                m.epoch(),
                m.trainLoss(),
                m.trainAccuracy(),
                m.testLoss(),
                m.testAccuracy(),
                m.seconds()));
      }
    }
    Files.write(out.resolve("training-curves.csv"), csv);
    String what = base.model() + ", " + base.solver() + " N_t=" + base.nt();
    Charts.lines(
        out.resolve("training-loss.png"),
        "Train loss, " + what,
        "epoch",
        "loss",
        false,
        false,
        loss);
    Charts.lines(
        out.resolve("test-accuracy.png"),
        "Test accuracy, " + what,
        "epoch",
        "accuracy (%)",
        false,
        false,
        accuracy);
    System.out.println(
        "wrote " + out.resolve("training-curves.csv") + ", training-loss.png, test-accuracy.png");
    return 0;
  }
}
