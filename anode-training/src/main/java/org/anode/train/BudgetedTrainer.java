package org.anode.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.data.DataLoader;
import org.anode.nn.Module;

/**
 * Trains within a wall-clock {@link TimeBudget}: the first steps, at a tenth of the peak learning
 * rate, measure the pace; then the number of steps that fits (leaving time for the final evaluation
 * and the checkpoint) is planned, and re-planned every {@value #REPLAN} steps from the recent pace,
 * with the learning rate annealed to zero at the planned last step ({@link
 * TimeBudget#learningRate}). Epochs run whole until the plan ends one part-way. Then the test set
 * is evaluated once and the checkpoint written.
 */
public final class BudgetedTrainer {
  /** Steps measured before the first plan (the first step, with its warm-up, is not counted). */
  static final int CALIBRATION = 4;

  /** Steps between two plans. */
  static final int REPLAN = 20;

  private final Backend backend;
  private final Module model;
  private final Optimizer optimizer;
  private final DType dtype;
  private final long seed;
  private double labelSmoothing;
  private boolean flipEvaluation;

  public BudgetedTrainer(
      Backend backend, Module model, Optimizer optimizer, DType dtype, long seed) {
    this.backend = backend;
    this.model = model;
    this.optimizer = optimizer;
    this.dtype = dtype;
    this.seed = seed;
  }

  /** Trains against labels smoothed by {@code epsilon} ({@link TrainingStep#crossEntropy}). */
  public BudgetedTrainer labelSmoothing(double epsilon) {
    if (!(epsilon >= 0 && epsilon < 1)) {
      throw new IllegalArgumentException("label smoothing must be in [0, 1), got " + epsilon);
    }
    this.labelSmoothing = epsilon;
    return this;
  }

  /** Evaluates each image with its mirror, logits averaged ({@link Evaluation#run}). */
  public BudgetedTrainer flipEvaluation(boolean on) {
    this.flipEvaluation = on;
    return this;
  }

  /** What is reported as the run goes: after each plan, and after each epoch. */
  public interface Listener {
    default void planned(int steps, double secondsPerStep, double reserveSeconds) {}

    default void epochDone(int epoch, int stepsDone, double trainLoss, double trainAccuracy) {}

    /**
     * After each step, outside its scope (a caller may evaluate the model here, as the
     * time-to-accuracy experiment does, pausing the budget's clock while it does).
     */
    default void stepDone(int stepsDone, double lr) {}
  }

  /**
   * What the run did: the steps taken, the final test figures, the pace; with flip evaluation, also
   * the accuracy the unflipped images alone reached (else the same as the metrics' accuracy).
   */
  public record Result(
      int steps,
      int epochs,
      EpochMetrics metrics,
      double secondsPerStep,
      double evaluationSeconds,
      double accuracyWithoutFlips) {}

  /**
   * Trains with peak learning rate {@code peakLr} until the budget's plan is done, evaluates on
   * {@code test}, writes the checkpoint to {@code checkpoint} (with the run's description {@code
   * run}) when it is not null.
   */
  public Result fit(
      DataLoader train,
      DataLoader test,
      TimeBudget budget,
      double peakLr,
      Path checkpoint,
      Map<String, String> run,
      Listener listener)
      throws IOException {
    if (train.data().size() == 0) {
      throw new IllegalArgumentException("BudgetedTrainer: the training set has no images");
    }
    TrainingStep step = new TrainingStep(model, optimizer);
    int planned = Integer.MAX_VALUE;
    int steps = 0;
    int epoch = 0;
    double pace = 0; // seconds per step, smoothed
    double reserve = 0; // seconds kept for the final evaluation, once planned
    // Seconds on the budget's clock, which a caller may pause (time spent outside training).
    double lastStepEnd = budget.elapsed();
    double measuredSince = 0;
    int measured = 0;
    long peakSaved = 0;
    long peakLive = 0;
    double lossSum = 0;
    int right = 0;
    int seen = 0;
    double lr = peakLr / 10;
    double trainStart = budget.elapsed();
    int imagesTrained = 0;
    model.train(true);
    if (budget.remaining() <= 0) {
      throw new IllegalArgumentException(
          String.format(
              java.util.Locale.ROOT,
              "--time-budget: start-up alone took %.1f s of the %.1f s budget; give a longer one",
              budget.elapsed(),
              budget.elapsed() + budget.remaining()));
    }
    while (steps < planned) {
      lossSum = 0;
      right = 0;
      seen = 0;
      try (DataLoader.Epoch batches = train.epoch(epoch)) {
        while (steps < planned && batches.hasNext()) {
          DataLoader.Batch b = batches.next();
          lr =
              planned == Integer.MAX_VALUE
                  ? peakLr / 10
                  : TimeBudget.learningRate(peakLr, steps, planned);
          int[] correct = {0};
          TrainingStep.Outcome o =
              step.run(
                  () -> Evaluation.images(backend, dtype, b, train),
                  TrainingStep.crossEntropy(b.labels(), correct, labelSmoothing),
                  lr,
                  "epoch " + (epoch + 1) + ", step " + (steps + 1),
                  new TrainingStep.Checks() {});
          lossSum += o.loss() * b.size();
          right += correct[0];
          seen += b.size();
          imagesTrained += b.size();
          peakSaved = Math.max(peakSaved, o.peakSavedBytes());
          peakLive = Math.max(peakLive, o.peakLiveBytes());
          steps++;
          double now = budget.elapsed();
          if (steps == 1) {
            measuredSince = now; // the first step warms up: not a measure of the pace
            if (budget.remaining() <= 0) {
              throw new IllegalArgumentException(
                  String.format(
                      java.util.Locale.ROOT,
                      "--time-budget: start-up (%.1f s) and one step (%.1f s) took more than the"
                          + " %.1f s budget; give a longer one (nothing was saved)",
                      trainStart,
                      now - trainStart,
                      now + budget.remaining()));
            }
          } else {
            measured++;
          }
          listener.stepDone(steps, lr);
          lastStepEnd = budget.elapsed();
          boolean first = planned == Integer.MAX_VALUE && measured >= CALIBRATION;
          if (first || (planned != Integer.MAX_VALUE && steps % REPLAN == 0)) {
            double recent = (now - measuredSince) / measured;
            pace = pace == 0 ? recent : 0.5 * pace + 0.5 * recent;
            measuredSince = now;
            measured = 0;
            reserve = reserve(test, train.batchSize(), pace, flipEvaluation);
            planned = Math.max(steps, budget.plan(steps, pace, reserve));
            listener.planned(planned, pace, reserve);
          }
          // The plan rests on the pace measured so far. When steps slow down (a busy machine, a
          // pause of the collector), stop before the next one would eat into the evaluation's
          // reserve, rather than overrun the budget; before a plan exists, when the budget is
          // spent.
          boolean overdue =
              planned == Integer.MAX_VALUE
                  ? budget.remaining() <= 0
                  : budget.remaining() < pace + reserve;
          if (overdue) {
            planned = steps;
          }
        }
      }
      listener.epochDone(
          epoch, steps, lossSum / Math.max(1, seen), (double) right / Math.max(1, seen));
      epoch++;
    }
    double trainSeconds = lastStepEnd - trainStart;
    long evalStart = System.nanoTime();
    double[] eval = Evaluation.run(backend, model, dtype, test, flipEvaluation);
    double evalSeconds = (System.nanoTime() - evalStart) / 1e9;
    EpochMetrics m =
        new EpochMetrics(
            epoch,
            lr,
            lossSum / Math.max(1, seen),
            (double) right / Math.max(1, seen),
            eval[0],
            eval[1],
            budget.elapsed(),
            imagesTrained / trainSeconds,
            peakSaved,
            peakLive);
    if (!Double.isFinite(eval[0])) {
      throw new NonFiniteException("the test loss is " + eval[0] + " (the model is not saved)");
    }
    if (checkpoint != null) {
      new Checkpoint(
              epoch - 1, seed, run, model.stateDict(), optimizer.state(), optimizer.counters())
          .save(checkpoint);
    }
    return new Result(steps, epoch, m, pace, evalSeconds, eval.length > 2 ? eval[2] : eval[1]);
  }

  /**
   * Time set aside for the final evaluation and checkpoint: the test set at a quarter of the
   * seconds per image of a training step (a forward pass without the tape measured about a sixth of
   * a step here), and a second for the checkpoint.
   */
  static double reserve(DataLoader test, int batch, double secondsPerStep, boolean flips) {
    return test.data().size() * secondsPerStep / batch * 0.25 * (flips ? 2 : 1) + 1.0;
  }
}
