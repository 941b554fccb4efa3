package org.anode.nn;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Variable;

/**
 * A layer or a network: named parameters, named buffers (state that is not trained, such as batch
 * norm's running statistics), child modules, and a training/evaluation mode. Names of nested
 * entries are dotted paths ({@code "stage1.conv.weight"}), as in PyTorch's {@code state_dict}.
 *
 * <p>A module owns its parameters and buffers; {@link #close()} frees them.
 */
public abstract class Module implements AutoCloseable {
  private final Map<String, Parameter> parameters = new LinkedHashMap<>();
  private final Map<String, Tensor> buffers = new LinkedHashMap<>();
  private final Map<String, Module> children = new LinkedHashMap<>();
  private boolean training = true;

  /** Applies the module to {@code x}, recording on the current tape if one is open. */
  public abstract Variable forward(Variable x);

  protected final Parameter registerParameter(String name, Parameter p) {
    checkName(name);
    parameters.put(name, p);
    return p;
  }

  protected final <M extends Module> M registerModule(String name, M module) {
    checkName(name);
    children.put(name, module);
    return module;
  }

  /** Registers a buffer; the module takes ownership of {@code value}. */
  protected final void registerBuffer(String name, Tensor value) {
    checkName(name);
    buffers.put(name, TensorScope.detach(value));
  }

  /** Replaces a buffer's value (taking ownership) and frees the old one. */
  protected final void setBuffer(String name, Tensor value) {
    Tensor old = buffers.get(name);
    if (old == null) {
      throw new IllegalArgumentException(getClass().getSimpleName() + ": no buffer '" + name + "'");
    }
    buffers.put(name, TensorScope.detach(value));
    if (old != value) {
      old.close();
    }
  }

  protected final Tensor buffer(String name) {
    return buffers.get(name);
  }

  private void checkName(String name) {
    if (name.isEmpty() || name.contains(".")) {
      throw new IllegalArgumentException("module entry names must be non-empty without '.'");
    }
    if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name)) {
      throw new IllegalArgumentException(
          getClass().getSimpleName() + ": '" + name + "' is registered twice");
    }
  }

  /** Every parameter of this module and its descendants, by dotted name, in registration order. */
  public final Map<String, Parameter> parameters() {
    Map<String, Parameter> out = new LinkedHashMap<>();
    collectParameters("", out);
    return Collections.unmodifiableMap(out);
  }

  private void collectParameters(String prefix, Map<String, Parameter> out) {
    parameters.forEach((n, p) -> out.put(prefix + n, p));
    children.forEach((n, c) -> c.collectParameters(prefix + n + ".", out));
  }

  /** Every buffer of this module and its descendants, by dotted name. */
  public final Map<String, Tensor> buffers() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    collectBuffers("", out);
    return Collections.unmodifiableMap(out);
  }

  private void collectBuffers(String prefix, Map<String, Tensor> out) {
    buffers.forEach((n, b) -> out.put(prefix + n, b));
    children.forEach((n, c) -> c.collectBuffers(prefix + n + ".", out));
  }

  /** Direct children by name. */
  public final Map<String, Module> children() {
    return Collections.unmodifiableMap(children);
  }

  /** Parameter values and buffers by dotted name: everything needed to restore the module. */
  public final Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    parameters().forEach((n, p) -> out.put(n, p.value()));
    out.putAll(buffers());
    return out;
  }

  /**
   * Copies every entry of {@code state} into this module's parameters and buffers. Names, shapes
   * and dtypes must match exactly; a missing or extra entry is an error that names it.
   */
  public final void loadStateDict(Map<String, Tensor> state) {
    Map<String, Tensor> own = stateDict();
    for (String name : own.keySet()) {
      if (!state.containsKey(name)) {
        throw new IllegalArgumentException("loadStateDict: missing entry '" + name + "'");
      }
    }
    for (String name : state.keySet()) {
      if (!own.containsKey(name)) {
        throw new IllegalArgumentException("loadStateDict: unexpected entry '" + name + "'");
      }
    }
    loadInto("", state);
  }

  private void loadInto(String prefix, Map<String, Tensor> state) {
    parameters.forEach((n, p) -> p.update(copyChecked(prefix + n, p.value(), state)));
    for (String n : buffers.keySet()) {
      setBuffer(n, copyChecked(prefix + n, buffers.get(n), state));
    }
    children.forEach((n, c) -> c.loadInto(prefix + n + ".", state));
  }

  private static Tensor copyChecked(String name, Tensor own, Map<String, Tensor> state) {
    Tensor src = state.get(name);
    if (!src.shape().equals(own.shape()) || src.dtype() != own.dtype()) {
      throw new IllegalArgumentException(
          "loadStateDict: '"
              + name
              + "' is "
              + src.shape()
              + " "
              + src.dtype()
              + " but the module has "
              + own.shape()
              + " "
              + own.dtype());
    }
    return own.backend().copy(src);
  }

  /** Number of trainable scalars. */
  public final long parameterCount() {
    long n = 0;
    for (Parameter p : parameters().values()) {
      n += p.shape().numel();
    }
    return n;
  }

  /** Sets training ({@code true}) or evaluation mode on this module and its descendants. */
  public Module train(boolean on) {
    training = on;
    children.values().forEach(c -> c.train(on));
    return this;
  }

  /** Evaluation mode: batch norm uses running statistics. */
  public final Module eval() {
    return train(false);
  }

  public final boolean isTraining() {
    return training;
  }

  /** Frees the accumulated gradients of every parameter. */
  public final void zeroGrad() {
    parameters().values().forEach(Parameter::zeroGrad);
  }

  /** Frees every parameter, gradient and buffer of this module and its descendants. */
  @Override
  public void close() {
    parameters.values().forEach(Parameter::close);
    buffers.values().forEach(Tensor::close);
    children.values().forEach(Module::close);
  }
}
