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
import org.anode.api.Tensor;
import org.anode.nn.Module;
import org.anode.ode.GradientMethod;
import org.anode.ode.MemoryBudget;

/**
 * Predicts a training step's peak memory before training and compares it with what is available, so
 * that a model that cannot fit stops at once with both numbers instead of being killed by the
 * kernel after minutes.
 *
 * <p>Prediction, in live bytes ({@link org.anode.api.LiveMemory}): the model's parameters and
 * buffers, the optimizer's state ({@code slots·P}: 1 for SGD with momentum, 2 for Adam), and the
 * peak a step adds with the gradient method — activations, temporaries and gradients — measured on
 * the model by {@link MemoryBudget#predictLivePeak} (two probe steps at batch 2 and 4, extrapolated
 * linearly in the batch).
 */
final class MemoryCheck {
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
  static long available(long liveBytes) {
    long avail = meminfo("MemAvailable:");
    long cgroup = cgroupRoom();
    if (cgroup >= 0) {
      avail = avail < 0 ? cgroup : Math.min(avail, cgroup);
    }
    return avail < 0 ? -1 : avail + liveBytes;
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

  /** Bytes of the model's parameters and buffers, live before training starts. */
  static long stateBytes(Module net) {
    return net.stateDict().values().stream().mapToLong(Tensor::bytes).sum();
  }

  static long parameterBytes(Module net, DType dtype) {
    return net.parameterCount() * dtype.byteSize();
  }

  /**
   * Checks {@code method} on {@code net} at {@code batch} against {@code available} bytes (−1:
   * unknown, keep the method): keeps it when it fits, else picks the fastest exact method that fits
   * (store-all, ANODE, revolve with the most snapshots) and sets it on every ODE block, else throws
   * with the predicted and available sizes and what to change.
   */
  static Decision decide(
      Module net,
      Backend be,
      DType dtype,
      int batch,
      String method,
      int optimizerSlots,
      long available) {
    Shape input = Shape.of(batch, 3, 32, 32);
    long fixed = stateBytes(net) + parameterBytes(net, dtype) * optimizerSlots;
    if (available < 0) {
      return new Decision(method, fixed + predictWith(net, be, dtype, input, method), -1, null);
    }
    // The candidates' saved bytes (a forward pass at batch 2) give a cheap lower bound first: a
    // step holds at least the parameters' gradients and what the smallest method saves. Hopeless
    // cases stop here, before the probe steps, which take minutes on a very large model.
    List<MemoryBudget.Option> options =
        MemoryBudget.advise(net, be, input.with(0, 2), dtype, Long.MAX_VALUE).considered();
    MemoryBudget.Option least = options.get(options.size() - 1);
    long floor = fixed + parameterBytes(net, dtype) + least.predictedBytes() * batch / 2;
    if (floor > available) {
      throw new IllegalArgumentException(
          "not enough memory: a training step needs more than "
              + mib(floor)
              + " with any method (parameters, buffers, gradients and optimizer state "
              + mib(fixed + parameterBytes(net, dtype))
              + ", and what "
              + least.method()
              + " saves), "
              + mib(available)
              + " available; lower --batch or --width, or set --memory if more is really free");
    }
    long wanted = fixed + predictWith(net, be, dtype, input, method);
    if (wanted <= available) {
      return new Decision(method, wanted, available, null);
    }
    long smallest = wanted;
    String smallestName = method;
    for (MemoryBudget.Option o : options) {
      if (o.method().equals(method)) {
        continue;
      }
      long p = fixed + predictWith(net, be, dtype, input, o.method());
      if (p <= available) {
        return new Decision(
            o.method(),
            p,
            available,
            method + " would need ~" + mib(wanted) + " of " + mib(available));
      }
      if (p < smallest) {
        smallest = p;
        smallestName = o.method();
      }
    }
    setMethod(net, method);
    throw new IllegalArgumentException(
        "not enough memory: a training step with --method "
            + method
            + " needs ~"
            + mib(wanted)
            + " (the smallest, "
            + smallestName
            + ", ~"
            + mib(smallest)
            + "; parameters, buffers and optimizer state alone "
            + mib(fixed)
            + "), "
            + mib(available)
            + " available; lower --batch or --width, or set --memory if more is really free");
  }

  /** The step's live bytes with {@code method} on every block ({@link MemoryBudget}); sets it. */
  private static long predictWith(Module net, Backend be, DType dtype, Shape input, String method) {
    setMethod(net, method);
    return MemoryBudget.predictLivePeak(net, be, input, dtype);
  }

  private static void setMethod(Module net, String method) {
    MemoryBudget.blocks(net).forEach(b -> b.setMethod(GradientMethod.named(method)));
  }

  static String mib(long bytes) {
    return bytes >= 10L << 30
        ? String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30))
        : String.format(Locale.ROOT, "%.0f MiB", bytes / (double) (1L << 20));
  }
}
