package org.anode.train;

/** The learning rate of each epoch (epochs count from 0). */
@FunctionalInterface
public interface LearningRateSchedule {
  double rate(int epoch);

  /** The ANODE reference schedule: {@code base}, ÷10 from epoch 150, ÷100 from epoch 250. */
  static LearningRateSchedule reference(double base) {
    return steps(base, new int[] {150, 250}, 0.1);
  }

  /** {@code base} multiplied by {@code factor} at each milestone epoch. */
  static LearningRateSchedule steps(double base, int[] milestones, double factor) {
    return epoch -> {
      double lr = base;
      for (int m : milestones) {
        if (epoch >= m) {
          lr *= factor;
        }
      }
      return lr;
    };
  }

  /** Cosine annealing from {@code base} to 0 over {@code epochs} (Loshchilov and Hutter 2017). */
  static LearningRateSchedule cosine(double base, int epochs) {
    return epoch -> 0.5 * base * (1 + Math.cos(Math.PI * epoch / epochs));
  }

  static LearningRateSchedule constant(double base) {
    return epoch -> base;
  }
}
