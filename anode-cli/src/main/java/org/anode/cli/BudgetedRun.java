package org.anode.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.anode.data.DataLoader;
import org.anode.train.BudgetedTrainer;
import org.anode.train.EpochMetrics;
import org.anode.train.MetricsLog;
import org.anode.train.NonFiniteException;
import org.anode.train.TimeBudget;

/**
 * {@code anode train --time-budget}: the run planned into its wall time, reported as it goes (each
 * plan, each epoch's training loss) and at its end (the figures of the evaluated set, "test" or
 * "held-out", the time used against the budget), with one metrics row and the checkpoint.
 */
final class BudgetedRun {
  private BudgetedRun() {}

  static int run(
      BudgetedTrainer trainer,
      DataLoader train,
      DataLoader test,
      TimeBudget budget,
      double peakLr,
      Path checkpoint,
      java.util.Map<String, String> run,
      MetricsLog metrics,
      String evaluated,
      boolean flips)
      throws IOException {
    double total = budget.remaining() + budget.elapsed();
    System.out.printf(
        Locale.ROOT,
        "time budget %.0f s (%.1f s used by the start): peak lr %.3g, annealed to 0 at the planned"
            + " last step%n",
        total,
        budget.elapsed(),
        peakLr);
    int[] lastPlan = {-1};
    BudgetedTrainer.Result r;
    try {
      r =
          trainer.fit(
              train,
              test,
              budget,
              peakLr,
              checkpoint,
              run,
              new BudgetedTrainer.Listener() {
                @Override
                public void planned(int steps, double secondsPerStep, double reserveSeconds) {
                  if (lastPlan[0] < 0) {
                    System.out.printf(
                        Locale.ROOT,
                        "plan: %d steps (%.2f s each, %.0f s kept for the final evaluation)%n",
                        steps,
                        secondsPerStep,
                        reserveSeconds);
                  }
                  lastPlan[0] = steps;
                }

                @Override
                public void epochDone(int epoch, int stepsDone, double loss, double accuracy) {
                  System.out.printf(
                      Locale.ROOT,
                      "epoch %d: step %d%s, train loss %.4f, train acc %.2f%%, %.0f s used%n",
                      epoch + 1,
                      stepsDone,
                      lastPlan[0] < 0 ? " (no plan yet)" : " of " + lastPlan[0],
                      loss,
                      100 * accuracy,
                      budget.elapsed());
                }
              });
    } catch (NonFiniteException e) {
      System.err.println("training stopped: " + e.getMessage() + "; no checkpoint was written");
      return 2;
    }
    EpochMetrics m = r.metrics();
    metrics.start(0);
    metrics.append(m);
    System.out.printf(
        Locale.ROOT,
        "done: %d steps in %d epochs; %s loss %.4f, %s accuracy %.2f%%%s; %.1f s of the %.0f s"
            + " budget (final evaluation %.1f s); checkpoint %s%n",
        r.steps(),
        r.epochs(),
        evaluated,
        m.testLoss(),
        evaluated,
        100 * m.testAccuracy(),
        flips
            ? String.format(Locale.ROOT, " (%.2f%% without flips)", 100 * r.accuracyWithoutFlips())
            : "",
        budget.elapsed(),
        total,
        r.evaluationSeconds(),
        checkpoint);
    return 0;
  }
}
