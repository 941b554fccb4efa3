package org.anode.backend.nd4j;

import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.BackendProvider;
import org.nd4j.linalg.factory.Nd4j;

/** Registers the ND4J backend with {@link org.anode.api.Backends}. */
public final class Nd4jProvider implements BackendProvider {
  /** The name users select this backend by. */
  public static final String NAME = "nd4j";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int rank() {
    return 100;
  }

  @Override
  public Availability availability() {
    try {
      // Loads the native library; fails with UnsatisfiedLinkError on an unsupported platform.
      Nd4j.getBackend();
      Nd4j.scalar(1.0).close();
      return Availability.yes();
    } catch (Throwable t) {
      return Availability.no(t);
    }
  }

  @Override
  public Backend create(BackendOptions options) {
    return new Nd4jBackend(options);
  }
}
