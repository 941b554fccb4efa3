package org.anode.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.nn.Module;
import org.anode.ode.GradientMethod;
import org.anode.ode.MemoryBudget;

/**
 * Predicts a training step's peak memory before training and compares it with what is available, so
 * that a model that cannot fit stops at once with both numbers instead of being killed by the
 * kernel after minutes.
 *
 * <p>Prediction: the parameters with their gradients and optimizer state ({@code P·(2 + slots)},
 * slots = 1 for SGD with momentum, 2 for Adam), plus the tape's saved bytes of the gradient method
 * at this batch ({@link MemoryBudget}, measured on the model at batch 2 and scaled linearly in the
 * batch) times {@link #WORKING_SET}: the live tensors of a step peak at 4.5–7.2 times the saved
 * bytes (issue 10's measurements: store-all 5.5, ANODE 5.3, revolve 7.2), because intermediates
 * live until their scope closes.
 */
final class MemoryCheck {
  static final double WORKING_SET = 7.5;
  private static final int PROBE_BATCH = 2;
  private static final Pattern SIZE =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?)(b?)", Pattern.CASE_INSENSITIVE);

  private MemoryCheck() {}

  /** What was decided: the method to use and the predicted and available bytes. */
  record Decision(String method, long predicted, long available, String note) {}

  /** {@code 2GiB}, {@code 512m}, {@code 3G}, {@code 1000000}: bytes (binary units either way). */
  static long parseSize(String option, String s) {
    Matcher m = SIZE.matcher(s.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          option + " must be a size such as 2GiB, 512MiB or 3G, got '" + s + "'");
    }
    double v = Double.parseDouble(m.group(1));
    String unit = m.group(2).toLowerCase(Locale.ROOT);
    int power = unit.isEmpty() ? 0 : "kmgt".indexOf(unit) + 1;
    long bytes = (long) (v * Math.pow(1024, power));
    if (bytes <= 0) {
      throw new IllegalArgumentException(option + " must be positive, got '" + s + "'");
    }
    return bytes;
  }

  /**
   * Memory this process may still use: {@code MemAvailable} (and the cgroup's limit, if lower) plus
   * what the model's parameters already hold; −1 when the system does not say.
   */
  static long available(long parameterBytes) {
    long avail = meminfo("MemAvailable:");
    long cgroup = cgroupRoom();
    if (cgroup >= 0) {
      avail = avail < 0 ? cgroup : Math.min(avail, cgroup);
    }
    return avail < 0 ? -1 : avail + parameterBytes;
  }

  private static long meminfo(String key) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith(key)) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux: no prediction against the machine, only against --memory
    }
    return -1;
  }

  private static long cgroupRoom() {
    try {
      String max = Files.readString(Path.of("/sys/fs/cgroup/memory.max")).trim();
      if (max.equals("max")) {
        return -1;
      }
      long used = Long.parseLong(Files.readString(Path.of("/sys/fs/cgroup/memory.current")).trim());
      return Long.parseLong(max) - used;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  static long parameterBytes(Module net, DType dtype) {
    return net.parameterCount() * dtype.byteSize();
  }

  /**
   * Checks {@code method} on {@code net} at {@code batch} against {@code available} bytes: keeps it
   * when it fits, else picks the fastest exact method that fits (store-all, ANODE, revolve with the
   * most snapshots), else throws with the predicted and available sizes and what to change.
   */
  static Decision decide(
      Module net,
      Backend be,
      DType dtype,
      int batch,
      String method,
      int optimizerSlots,
      long available) {
    long persistent = parameterBytes(net, dtype) * (2 + optimizerSlots);
    MemoryBudget.Advice probe =
        MemoryBudget.advise(net, be, Shape.of(PROBE_BATCH, 3, 32, 32), dtype, Long.MAX_VALUE);
    List<MemoryBudget.Option> options = probe.considered();
    String wanted =
        GradientMethod.named(method) instanceof org.anode.ode.AdjointGradient
            ? options.get(options.size() - 1).method() // O(L), as the smallest revolve
            : method.trim().toLowerCase(Locale.ROOT);
    long predictedWanted = -1;
    for (MemoryBudget.Option o : options) {
      if (o.method().equals(wanted)) {
        predictedWanted = predict(persistent, o, batch);
      }
    }
    if (predictedWanted < 0) {
      predictedWanted = predict(persistent, options.get(1), batch); // revolve:s beyond N_t: ANODE's
    }
    if (available < 0 || predictedWanted <= available) {
      return new Decision(method, predictedWanted, available, null);
    }
    for (MemoryBudget.Option o : options) {
      long p = predict(persistent, o, batch);
      if (p <= available) {
        return new Decision(
            o.method(),
            p,
            available,
            method + " would need ~" + mib(predictedWanted) + " of " + mib(available));
      }
    }
    MemoryBudget.Option smallest = options.get(options.size() - 1);
    throw new IllegalArgumentException(
        "not enough memory: a training step with --method "
            + method
            + " needs ~"
            + mib(predictedWanted)
            + " (the smallest, "
            + smallest.method()
            + ", ~"
            + mib(predict(persistent, smallest, batch))
            + "; parameters with gradients and optimizer state alone "
            + mib(persistent)
            + "), "
            + mib(available)
            + " available; lower --batch or --width, or set --memory if more is really free");
  }

  private static long predict(long persistent, MemoryBudget.Option o, int batch) {
    double saved = (double) o.predictedBytes() * batch / PROBE_BATCH;
    return persistent + (long) (WORKING_SET * saved);
  }

  static String mib(long bytes) {
    return bytes >= 10L << 30
        ? String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30))
        : String.format(Locale.ROOT, "%.0f MiB", bytes / (double) (1L << 20));
  }
}
