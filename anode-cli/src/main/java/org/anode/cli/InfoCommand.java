package org.anode.cli;

import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.BackendNotFoundException;
import org.anode.api.Backends;
import picocli.CommandLine.Command;

/**
 * {@code anode info}: the backends found, why any cannot start, what each computes with on this CPU
 * (its {@link Backend#kernels}), the default, threads.
 */
@Command(
    name = "info",
    mixinStandardHelpOptions = true,
    description = "Show the backends found and the default.")
public final class InfoCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.out.println("backends found (best rank first):");
    for (Backends.Found f : Backends.discover()) {
      System.out.println("  " + f);
      if (f.availability().available()) {
        // Starting each backend loads its native library: what runs on this CPU, and any fallback.
        for (String line : Backends.get(f.provider().name()).kernels()) {
          System.out.println("    " + line);
        }
      }
    }
    String requested = Backends.requestedName();
    System.out.println(
        "requested: "
            + (requested == null
                ? "none (" + Backends.PROPERTY + " / " + Backends.ENV + " not set)"
                : requested));
    try {
      Backend b = Backends.get();
      System.out.println("default: " + b.name() + ", " + b.threads() + " threads");
      System.out.println("processors: " + Runtime.getRuntime().availableProcessors());
      System.out.println(
          "note: ND4J 1.0.0-M2.1 ships OpenBLAS built for JavaCPP 1.5.7, while TensorFlow Java and"
              + " DJL need JavaCPP 1.5.11 on the same class path; JavaCPP warns that the versions"
              + " differ (anode --verbose shows it). It is harmless here: the ND4J conformance suite"
              + " passes on this combination.");
      return 0;
    } catch (BackendNotFoundException e) {
      System.out.println("default: none — " + e.getMessage());
      return 1;
    }
  }
}
