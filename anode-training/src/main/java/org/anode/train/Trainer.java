package org.anode.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.data.DataLoader;
import org.anode.nn.Module;
import org.anode.nn.Parameter;

/**
 * Trains a classifier with cross-entropy: for each epoch, one pass over the training batches
 * (forward on a tape, one backward sweep, an optimizer step, all intermediates freed with the
 * step's scope), then an evaluation pass; metrics to a CSV or JSON-lines file, a progress bar with
 * images/s, loss, accuracy and ETA, and a checkpoint after every epoch. A NaN or infinity in the
 * loss or a gradient stops training with a {@link NonFiniteException} naming the step and the
 * parameter; the last checkpoint written is then the last good one.
 */
public final class Trainer {
  private final Backend backend;
  private final Module model;
  private final Optimizer optimizer;
  private final TrainingStep trainingStep;
  private final LearningRateSchedule schedule;
  private final DType dtype;
  private final long seed;
  private Path checkpoint;
  private Path metrics;
  private MetricsLog metricsLog;
  private boolean progress;
  private Map<String, String> run = Map.of();
  private double labelSmoothing;
  private boolean flipEvaluation;
  private int epochsDone;
  private int savedEpochs = -1;

  public Trainer(
      Backend backend,
      Module model,
      Optimizer optimizer,
      LearningRateSchedule schedule,
      DType dtype,
      long seed) {
    this.backend = backend;
    this.model = model;
    this.optimizer = optimizer;
    this.trainingStep = new TrainingStep(model, optimizer);
    this.schedule = schedule;
    this.dtype = dtype;
    this.seed = seed;
  }

  /** Trains against labels smoothed by {@code epsilon} ({@link TrainingStep#crossEntropy}). */
  public Trainer labelSmoothing(double epsilon) {
    if (!(epsilon >= 0 && epsilon < 1)) {
      throw new IllegalArgumentException("label smoothing must be in [0, 1), got " + epsilon);
    }
    this.labelSmoothing = epsilon;
    return this;
  }

  /** Evaluates each image with its mirror, logits averaged ({@link Evaluation#run}). */
  public Trainer flipEvaluation(boolean on) {
    this.flipEvaluation = on;
    return this;
  }

  /** Writes a checkpoint to {@code path} after every epoch. */
  public Trainer checkpointTo(Path path) {
    this.checkpoint = path;
    return this;
  }

  /** Appends one line per epoch to {@code path}: CSV if it ends in .csv, else JSON lines. */
  public Trainer metricsTo(Path path) {
    this.metrics = path;
    return this;
  }

  /**
   * Describes the run (model, gradient method, solver, N_t, backend, …) in every metrics line, as
   * leading CSV columns or JSON fields, so that files of several runs can be told apart.
   */
  public Trainer describeRun(Map<String, String> run) {
    this.run = new java.util.LinkedHashMap<>(run);
    return this;
  }

  /** Shows a progress bar on standard error. */
  public Trainer showProgress(boolean on) {
    this.progress = on;
    return this;
  }

  /**
   * Restores model and optimizer from {@code path}; returns the epoch to continue with. Refuses a
   * checkpoint of another seed or whose {@link Checkpoint#IDENTITY} entries differ from this run's.
   */
  public int resume(Path path) throws IOException {
    try (TensorScope scope = TensorScope.open()) {
      Checkpoint c = Checkpoint.load(path, backend);
      if (c.seed() != seed) {
        throw new IllegalArgumentException(
            "resume: " + path + " was written with seed " + c.seed() + ", this run has " + seed);
      }
      String mismatch = c.identityMismatch(run, "this run");
      if (mismatch != null) {
        throw new IllegalArgumentException("resume: " + path + " " + mismatch);
      }
      model.loadStateDict(c.model());
      optimizer.loadState(c.optimizer(), c.counters());
      epochsDone = c.epoch() + 1;
      return epochsDone;
    }
  }

  /**
   * Checks, before any training, that a checkpoint can be written where {@link #checkpointTo} says
   * (deleting what interrupted saves left there) and starts the metrics file (afresh, or keeping
   * the rows up to the resumed checkpoint), so that a read-only or missing folder is reported now,
   * not after an epoch.
   */
  public void prepareOutputs() throws IOException {
    if (checkpoint != null) {
      Path tmp = Checkpoint.temporaryFile(checkpoint.toAbsolutePath());
      try {
        Files.createDirectories(tmp.getParent());
        Checkpoint.removeLeftovers(checkpoint);
        Files.write(tmp, new byte[0]);
        Files.delete(tmp);
      } catch (IOException e) {
        throw new IOException(
            checkpoint + ": cannot write a checkpoint there (" + Checkpoint.describe(e) + ")", e);
      }
    }
    if (metrics != null && metricsLog == null) {
      MetricsLog log = new MetricsLog(metrics, run);
      log.start(epochsDone);
      metricsLog = log;
    }
  }

  /**
   * The number of epochs in the checkpoint this run last wrote, or −1 when it wrote none (a run
   * that stops early can then name the checkpoint that is really the last good one).
   */
  public int savedEpochs() {
    return savedEpochs;
  }

  /** Trains epochs {@code first} to {@code epochs − 1}; returns each epoch's metrics. */
  public List<EpochMetrics> fit(DataLoader train, DataLoader test, int first, int epochs)
      throws IOException {
    if (train.data().size() == 0) {
      throw new IllegalArgumentException("Trainer: the training set has no images");
    }
    List<EpochMetrics> out = new ArrayList<>();
    for (int epoch = first; epoch < epochs; epoch++) {
      double lr = schedule.rate(epoch);
      long start = System.nanoTime();
      double lossSum = 0;
      int right = 0;
      int seen = 0;
      long peak = 0;
      long livePeak = 0;
      model.train(true);
      ProgressBar bar =
          progress
              ? new ProgressBarBuilder()
                  .setTaskName("epoch " + (epoch + 1) + "/" + epochs)
                  .setInitialMax(train.data().size())
                  .setStyle(ProgressBarStyle.ASCII)
                  .setUnit(" img", 1)
                  .showSpeed()
                  .build()
              : null;
      try (DataLoader.Epoch batches = train.epoch(epoch)) {
        int step = 0;
        while (batches.hasNext()) {
          DataLoader.Batch b = batches.next();
          int e = epoch;
          int st = step;
          int[] correct = {0};
          TrainingStep.Outcome o =
              trainingStep.run(
                  () -> images(b, train),
                  TrainingStep.crossEntropy(b.labels(), correct, labelSmoothing),
                  lr,
                  "epoch " + (epoch + 1) + ", step " + (step + 1),
                  new TrainingStep.Checks() {
                    @Override
                    public void beforeUpdate() {
                      checkGradients(e, st);
                    }

                    @Override
                    public void afterUpdate() {
                      checkFinite(
                          model.parameters(),
                          "epoch " + (e + 1) + ", step " + (st + 1) + ", after the update");
                    }
                  });
          lossSum += o.loss() * b.size();
          right += correct[0];
          peak = Math.max(peak, o.peakSavedBytes());
          livePeak = Math.max(livePeak, o.peakLiveBytes());
          seen += b.size();
          step++;
          if (bar != null) {
            bar.stepBy(b.size());
            bar.setExtraMessage(
                String.format(" loss %.3f acc %.1f%%", lossSum / seen, 100.0 * right / seen));
          }
        }
      } finally {
        if (bar != null) {
          bar.close();
        }
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      double[] eval = evaluate(test);
      EpochMetrics m =
          new EpochMetrics(
              epoch + 1,
              lr,
              lossSum / seen,
              (double) right / seen,
              eval[0],
              eval[1],
              seconds,
              seen / seconds,
              peak,
              livePeak);
      if (!Double.isFinite(eval[0])) {
        throw new NonFiniteException(
            "epoch " + (epoch + 1) + ": the test loss is " + eval[0] + " (the model is not saved)");
      }
      out.add(m);
      if (checkpoint != null) {
        Map<String, Tensor> state = model.stateDict();
        checkFinite(state, "epoch " + (epoch + 1) + ", model state before saving");
        checkFinite(optimizer.state(), "epoch " + (epoch + 1) + ", optimizer state before saving");
        new Checkpoint(epoch, seed, run, state, optimizer.state(), optimizer.counters())
            .save(checkpoint);
        savedEpochs = epoch + 1;
      }
      writeMetrics(m);
    }
    return out;
  }

  private void checkFinite(Map<String, ? extends Object> tensors, String when) {
    NonFiniteException.checkState(backend, tensors, when);
  }

  private void checkGradients(int epoch, int step) {
    for (Map.Entry<String, Parameter> e : model.parameters().entrySet()) {
      Tensor g = e.getValue().grad();
      if (g == null) {
        continue;
      }
      double s = backend.sum(g, false).item();
      if (!Double.isFinite(s)) {
        throw new NonFiniteException(
            "epoch "
                + (epoch + 1)
                + ", step "
                + (step + 1)
                + ": the gradient of "
                + e.getKey()
                + " "
                + g.shape()
                + " holds NaN or infinity");
      }
    }
  }

  /** Mean loss and top-1 accuracy over {@code data}, in evaluation mode ({@link Evaluation}). */
  public double[] evaluate(DataLoader data) {
    return Evaluation.run(backend, model, dtype, data, flipEvaluation);
  }

  private Tensor images(DataLoader.Batch b, DataLoader loader) {
    return Evaluation.images(backend, dtype, b, loader);
  }

  private static int correct(Tensor logits, int[] labels) {
    return Evaluation.correct(logits, labels);
  }

  private void writeMetrics(EpochMetrics m) throws IOException {
    if (metrics == null) {
      return;
    }
    if (metricsLog == null) {
      prepareOutputs();
    }
    metricsLog.append(m);
  }
}
