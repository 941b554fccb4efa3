package org.anode.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The plan of a time-budgeted run, on a clock the test moves by hand. */
class TimeBudgetTest {

  @Test
  void thePlanFillsWhatIsLeftAfterTheReserveAndTheMargin() {
    AtomicLong now = new AtomicLong(0);
    TimeBudget b = new TimeBudget(Duration.ofSeconds(100), now::get);
    now.set(10_000_000_000L); // 10 s spent loading data
    // 100 − 10 − 5 (reserve) − 3 (margin) = 82 s left at 2 s a step: 41 more.
    assertEquals(4 + 41, b.plan(4, 2.0, 5.0));
    now.set(99_000_000_000L);
    assertEquals(50, b.plan(50, 2.0, 5.0), "never fewer than the steps already taken");
    assertTrue(b.remaining() < 1.01 && b.remaining() > 0.99);
  }

  @Test
  void theLearningRateWarmsUpThenAnnealsToZeroAtTheLastPlannedStep() {
    int steps = 200;
    assertEquals(0.01, TimeBudget.learningRate(0.1, 0, steps), 1e-12);
    int warm = (int) Math.round(TimeBudget.WARMUP * steps);
    assertEquals(0.1, TimeBudget.learningRate(0.1, warm, steps), 1e-12);
    assertEquals(0.0, TimeBudget.learningRate(0.1, steps - 1, steps), 1e-12);
    double prev = Double.MAX_VALUE;
    for (int s = warm; s < steps; s++) {
      double lr = TimeBudget.learningRate(0.1, s, steps);
      assertTrue(lr <= prev, "annealing is monotone at step " + s);
      prev = lr;
    }
  }

  @Test
  void durationsParseAndBadOnesNameTheOption() {
    assertEquals(Duration.ofMinutes(15), TimeBudget.parse("15m"));
    assertEquals(Duration.ofSeconds(90), TimeBudget.parse("90s"));
    assertEquals(Duration.ofMinutes(90), TimeBudget.parse("1h30m"));
    assertEquals(Duration.ofSeconds(45), TimeBudget.parse("45"));
    assertEquals(Duration.ofMinutes(2), TimeBudget.parse("PT2M"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> TimeBudget.parse("soon"));
    assertTrue(e.getMessage().startsWith("--time-budget"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> new TimeBudget(Duration.ZERO, System::nanoTime));
  }
}
