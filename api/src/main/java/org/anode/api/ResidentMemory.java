package org.anode.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The third memory meter: the process's resident set as the operating system counts it (heap,
 * native libraries, pools, data), read from Linux's {@code /proc/self/status}. Beside {@link
 * LiveMemory} (tensors allocated and not freed) it shows what a backend's pools and caches hold
 * beyond the tensors.
 */
public final class ResidentMemory {
  private static final Path STATUS = Path.of("/proc/self/status");

  private ResidentMemory() {}

  /** The resident set now ({@code VmRSS}), in bytes. */
  public static long currentBytes() {
    return field("VmRSS");
  }

  /** The resident set's peak ({@code VmHWM}) since the process started or {@link #resetPeak}. */
  public static long peakBytes() {
    return field("VmHWM");
  }

  /**
   * Resets the peak to the current resident set ({@code echo 5 > /proc/self/clear_refs}); returns
   * false where the kernel does not allow it (the peak then covers the process so far).
   */
  public static boolean resetPeak() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static long field(String name) {
    try {
      for (String line : Files.readAllLines(STATUS)) {
        if (line.startsWith(name + ":")) {
          // "VmRSS:	  123456 kB"
          return Long.parseLong(line.substring(name.length() + 1).replace("kB", "").trim()) * 1024;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(STATUS + ": cannot read the resident set (not Linux?)", e);
    }
    throw new IllegalStateException("no " + name + " in " + STATUS);
  }
}
