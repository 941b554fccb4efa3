package org.anode.cli;

import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.BackendNotFoundException;
import org.anode.api.Backends;
import picocli.CommandLine.Command;

/** {@code anode info}: the backends found, why any cannot start, the default, threads. */
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
      return 0;
    } catch (BackendNotFoundException e) {
      System.out.println("default: none — " + e.getMessage());
      return 1;
    }
  }
}
