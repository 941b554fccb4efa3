package org.anode.backend.djl;

import ai.djl.engine.Engine;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.BackendProvider;

/** Registers the DJL (PyTorch engine) backend with {@link org.anode.api.Backends}. */
public final class DjlProvider implements BackendProvider {
  /** The name users select this backend by. */
  public static final String NAME = "djl";

  static {
    // libtorch comes from the pytorch-native-cpu jar: never download one at run time.
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int rank() {
    return 80;
  }

  @Override
  public Availability availability() {
    try {
      Engine engine = Engine.getEngine("PyTorch");
      return engine == null ? Availability.no("DJL found no PyTorch engine") : Availability.yes();
    } catch (Throwable t) {
      return Availability.no(t);
    }
  }

  @Override
  public Backend create(BackendOptions options) {
    return new DjlBackend(options);
  }
}
