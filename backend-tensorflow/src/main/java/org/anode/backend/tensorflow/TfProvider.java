package org.anode.backend.tensorflow;

import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.BackendProvider;
import org.tensorflow.TensorFlow;

/** Registers the TensorFlow Java backend with {@link org.anode.api.Backends}. */
public final class TfProvider implements BackendProvider {
  /** The name users select this backend by. */
  public static final String NAME = "tensorflow";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int rank() {
    return 90;
  }

  @Override
  public Availability availability() {
    try {
      TensorFlow.version(); // loads the native library
      return Availability.yes();
    } catch (Throwable t) {
      return Availability.no(t);
    }
  }

  @Override
  public Backend create(BackendOptions options) {
    return new TfBackend(options);
  }
}
