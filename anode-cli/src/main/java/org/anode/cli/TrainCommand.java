package org.anode.cli;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.name.Names;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.data.DataLoader;
import org.anode.data.ImageDataset;
import org.anode.nn.Module;
import org.anode.train.BudgetedTrainer;
import org.anode.train.CheckpointLock;
import org.anode.train.EpochMetrics;
import org.anode.train.LearningRateSchedule;
import org.anode.train.MetricsLog;
import org.anode.train.NonFiniteException;
import org.anode.train.Optimizer;
import org.anode.train.TimeBudget;
import org.anode.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code anode train}: trains an ODE classifier on CIFAR with the chosen gradient method. */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    description = "Train ODE-ResNet or ODE-SqueezeNext on CIFAR-10/100.")
public final class TrainCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(
      names = "--epochs",
      defaultValue = "350",
      description = "Epochs (default: ${DEFAULT-VALUE}, as the reference)")
  int epochs;

  @Option(
      names = "--train-limit",
      defaultValue = "0",
      description = "Train on a seeded, class-balanced sample of N images (default: all)")
  int trainLimit;

  @Option(
      names = "--lr",
      defaultValue = "0.1",
      description = "Base learning rate (default: ${DEFAULT-VALUE})")
  double lr;

  @Option(
      names = "--schedule",
      defaultValue = "reference",
      description =
          "reference (÷10 at epoch 150, ÷100 at 250), cosine or constant (default: ${DEFAULT-VALUE})")
  String schedule;

  @Option(
      names = "--optimizer",
      defaultValue = "sgd",
      description = "sgd or adam (default: ${DEFAULT-VALUE})")
  String optimizer;

  @Option(
      names = "--momentum",
      defaultValue = "0.9",
      description = "SGD momentum (default: ${DEFAULT-VALUE})")
  double momentum;

  @Option(names = "--nesterov", description = "Nesterov momentum")
  boolean nesterov;

  @Option(
      names = "--weight-decay",
      defaultValue = "5e-4",
      description = "L2 weight decay (default: ${DEFAULT-VALUE})")
  double weightDecay;

  @Option(
      names = "--checkpoint",
      defaultValue = "anode-run.ckpt",
      description = "Checkpoint written after every epoch (default: ${DEFAULT-VALUE})")
  Path checkpoint;

  @Option(names = "--resume", description = "Continue from --checkpoint (which must exist)")
  boolean resume;

  @Option(
      names = "--overwrite",
      description = "Start a new run even if --checkpoint exists (it is replaced after epoch 1)")
  boolean overwrite;

  @Option(
      names = "--metrics",
      defaultValue = "anode-metrics.csv",
      description = "Per-epoch metrics, .csv or JSON lines (default: ${DEFAULT-VALUE})")
  Path metrics;

  @Option(
      names = "--memory",
      description =
          "Memory a step may use, such as 2GiB (default: what the machine has available); a"
              + " method that does not fit is replaced by the fastest exact one that does")
  String memory;

  @Option(names = "--no-progress", description = "No progress bar")
  boolean noProgress;

  @Option(
      names = "--time-budget",
      description =
          "Wall time for the whole run, such as 15m: the number of steps is planned from the measured"
              + " pace to end within it (data loading and the final evaluation included), the"
              + " learning rate (--lr its peak) annealed to zero at the last step; --epochs and"
              + " --schedule are then not used")
  String timeBudget;

  @Option(
      names = "--holdout",
      defaultValue = "0",
      description =
          "Hold out N training images (seeded, class-balanced) and evaluate on them instead of the"
              + " test set, which is then not read: for choosing settings (default: none)")
  int holdout;

  @Option(
      names = "--label-smoothing",
      defaultValue = "0",
      description = "Label smoothing ε of the cross-entropy, in [0, 1) (default: ${DEFAULT-VALUE})")
  double labelSmoothing;

  @Option(
      names = "--eval-flips",
      description =
          "Evaluate each image with its mirror image, logits averaged (2× the evaluation)")
  boolean evalFlips;

  @Option(
      names = "--recipe",
      description =
          "Settings preset, applied to every option not given: "
              + Recipe.NAMES
              + " (see the README's 'Against the clock')")
  String recipe;

  @Spec CommandSpec spec;

  @Option(
      names = "--workers",
      defaultValue = "0",
      description =
          "Train data-parallel on Spark with N workers, each a replica taking its shard of every"
              + " --batch (default: one process, no Spark)")
  int workers;

  @Option(
      names = "--spark-master",
      description =
          "Spark master URL such as spark://host:7077 (default with --workers: local[N], or what"
              + " spark-submit set)")
  String sparkMaster;

  /**
   * Checks every option before anything starts (throwing naming the option at fault) and returns
   * the run's configuration.
   */
  RunConfig validate() {
    if (recipe != null) {
      Recipe.named(recipe).applyTo(spec, spec.commandLine().getParseResult()::hasMatchedOption);
    }
    RunConfig config =
        model.config(
            new RunConfig.Optimization(
                epochs,
                trainLimit,
                lr,
                schedule,
                optimizer,
                momentum,
                nesterov,
                weightDecay,
                holdout,
                labelSmoothing,
                evalFlips));
    OptionChecks.atLeast("--workers", workers, 0);
    if (timeBudget != null) {
      TimeBudget.parse(timeBudget);
      if (resume || workers > 0) {
        throw new IllegalArgumentException(
            "--time-budget plans a whole new run in one process: not with --resume or --workers");
      }
    }
    if (sparkMaster != null && workers == 0) {
      throw new IllegalArgumentException("--spark-master needs --workers N");
    }
    if (memory != null) {
      MemoryCheck.parseSize("--memory", memory);
    }
    RunFiles.check(checkpoint, metrics, resume, overwrite);
    if (workers > 0) {
      // spark-submit passes its --master as the system property spark.master.
      SparkTraining.checkResources(
          workers,
          model.threads,
          sparkMaster != null ? sparkMaster : System.getProperty("spark.master"));
    }
    return config;
  }

  @Override
  public Integer call() throws Exception {
    long started = System.nanoTime();
    RunConfig config = validate();
    try (CheckpointLock lock = CheckpointLock.acquire(checkpoint)) {
      return train(config, started);
    }
  }

  private Integer train(RunConfig config, long started) throws Exception {
    if (workers > 0) {
      return SparkTraining.run(
          config,
          new SparkTraining.Settings(
              workers,
              sparkMaster,
              epochs,
              checkpoint,
              metrics,
              resume,
              !noProgress,
              config.describe(),
              memory));
    }
    Injector injector = Guice.createInjector(new TrainingModule(config));
    Backend be = injector.getInstance(Backend.class);
    Module net = injector.getInstance(Module.class);
    DType dtype = injector.getInstance(DType.class);
    Optimizer opt = injector.getInstance(Optimizer.class);
    Map<String, String> run = config.describe();
    run.put("optimizer", opt.kind());
    run.put("backend", be.name());
    long available =
        memory != null
            ? MemoryCheck.parseSize("--memory", memory)
            : MemoryCheck.available(MemoryCheck.stateBytes(net));
    MemoryCheck.Decision fit =
        MemoryCheck.decide(
            net,
            be,
            dtype,
            effectiveBatch(config),
            config.method(),
            config.optimization().stateSlots(),
            available);
    if (fit.note() != null) {
      run.put("method", fit.method());
      System.out.printf(
          "memory: %s; using %s (~%s predicted)%n",
          fit.note(), fit.method(), MemoryCheck.mib(fit.predicted()));
    } else if (available > 0) {
      System.out.printf(
          "memory: ~%s predicted for a step, %s available%n",
          MemoryCheck.mib(fit.predicted()), MemoryCheck.mib(available));
    }
    Trainer trainer =
        new Trainer(
                be,
                net,
                opt,
                injector.getInstance(LearningRateSchedule.class),
                dtype,
                config.seed())
            .labelSmoothing(labelSmoothing)
            .flipEvaluation(evalFlips)
            .checkpointTo(checkpoint)
            .metricsTo(metrics)
            .describeRun(run)
            .showProgress(!noProgress);
    int first = 0;
    if (resume) {
      first = trainer.resume(checkpoint);
      if (first >= epochs) {
        System.out.printf(
            "%s already holds %d epochs (--epochs %d): nothing to do%n", checkpoint, first, epochs);
        return 0;
      }
    }
    DataLoader trainLoader = injector.getInstance(Key.get(DataLoader.class, Names.named("train")));
    DataLoader testLoader = injector.getInstance(Key.get(DataLoader.class, Names.named("test")));
    ImageDataset train = trainLoader.data();
    ImageDataset test = testLoader.data();
    System.out.printf(
        "anode train: %s (%,d parameters) on %s, %s × N_t=%d, method %s, %s %s, %d threads%n",
        config.model(),
        net.parameterCount(),
        config.dataset(),
        config.solver(),
        config.nt(),
        run.get("method"),
        be.name(),
        dtype,
        be.threads());
    System.out.printf(
        "data: %,d training and %,d %s images%n",
        train.size(),
        test.size(),
        holdout > 0 ? "held-out (evaluated instead of the test set)" : "test");
    trainer.prepareOutputs();
    if (timeBudget != null) {
      TimeBudget budget = new TimeBudget(TimeBudget.parse(timeBudget), System::nanoTime, started);
      return BudgetedRun.run(
          new BudgetedTrainer(be, net, opt, dtype, config.seed())
              .labelSmoothing(labelSmoothing)
              .flipEvaluation(evalFlips),
          trainLoader,
          testLoader,
          budget,
          config.optimization().lr(),
          checkpoint,
          run,
          new MetricsLog(metrics, run),
          holdout > 0 ? "held-out" : "test",
          evalFlips);
    }
    if (resume) {
      System.out.printf("resumed from %s after epoch %d%n", checkpoint, first);
    }
    System.out.println(EpochTable.HEADER + "  saved MiB  live MiB");
    try {
      for (int e = first; e < epochs; e++) {
        EpochMetrics m = trainer.fit(trainLoader, testLoader, e, e + 1).get(0);
        System.out.printf(
            "%s  %9.1f  %8.1f%n",
            EpochTable.row(m), m.peakSavedBytes() / 1048576.0, m.peakLiveBytes() / 1048576.0);
      }
    } catch (NonFiniteException e) {
      System.err.println("training stopped: " + e.getMessage() + "; " + lastGood(trainer, first));
      return 2;
    }
    return 0;
  }

  /**
   * The largest batch a step will see: {@code --batch}, unless the training sample is smaller
   * ({@code --train-limit} less the {@code --holdout}).
   */
  private int effectiveBatch(RunConfig config) {
    if (trainLimit <= 0) {
      return config.batch();
    }
    return Math.max(1, Math.min(config.batch(), trainLimit - Math.max(0, holdout)));
  }

  /** Which checkpoint is really the last good one after a stop. */
  private String lastGood(Trainer trainer, int resumedAfter) {
    if (trainer.savedEpochs() > 0) {
      return "last good checkpoint: " + checkpoint + " (epoch " + trainer.savedEpochs() + ")";
    }
    if (resumedAfter > 0) {
      return "this run wrote no checkpoint; "
          + checkpoint
          + " still holds the resumed epoch "
          + resumedAfter;
    }
    return "this run wrote no checkpoint";
  }
}
