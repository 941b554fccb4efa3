package org.anode.it;

import org.anode.api.Backend;
import org.anode.api.BackendNotFoundException;
import org.anode.api.Backends;

/** Run in a forked JVM by {@link BackendDiscoveryTest}: prints the chosen backend or the error. */
public final class DiscoveryMain {
  private DiscoveryMain() {}

  public static void main(String[] args) {
    try {
      Backend b = Backends.get();
      System.out.println("backend=" + b.name() + " threads=" + b.threads());
    } catch (BackendNotFoundException e) {
      System.out.println("error=" + e.getMessage());
      System.exit(3);
    }
  }
}
