package org.anode.api;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * An arena for tensors, in the spirit of DJL's {@code NDManager}: every tensor created on this
 * thread while the scope is the innermost open one belongs to it, and closing the scope closes them
 * all at once. This is how a training step frees its activations deterministically, without waiting
 * for the garbage collector:
 *
 * <pre>{@code
 * try (TensorScope step = TensorScope.open()) {
 *   Variable loss = model.forward(x);   // every intermediate tensor belongs to `step`
 *   tape.backward(loss);
 *   optimizer.step();                   // new weights are detached: they outlive `step`
 * }                                     // all intermediates are freed here
 * }</pre>
 *
 * <p>Scopes nest; {@link #keep} moves a tensor to the enclosing scope and {@link #detach} takes it
 * out of every scope, making the caller its owner. Tensors created with no scope open are owned by
 * the caller. A scope belongs to the thread that opened it.
 */
public final class TensorScope implements AutoCloseable {
  private static final ThreadLocal<ArrayDeque<TensorScope>> STACK =
      ThreadLocal.withInitial(ArrayDeque::new);

  private final Set<AbstractTensor> owned = Collections.newSetFromMap(new IdentityHashMap<>());
  private final TensorScope parent;
  private final Thread thread;
  private boolean closed;

  private TensorScope(TensorScope parent) {
    this.parent = parent;
    this.thread = Thread.currentThread();
  }

  /** Opens a scope nested in the current one (if any) and makes it current. */
  public static TensorScope open() {
    ArrayDeque<TensorScope> stack = STACK.get();
    TensorScope scope = new TensorScope(stack.peek());
    stack.push(scope);
    return scope;
  }

  /** Whether {@code tensor} belongs to this scope (not to an inner or outer one, nor detached). */
  public boolean owns(Tensor tensor) {
    return tensor instanceof AbstractTensor t && t.scope == this && !t.isClosed();
  }

  /** Runs {@code body} in a new scope and keeps its result in the enclosing scope. */
  public static <T extends Tensor> T keepResult(java.util.function.Supplier<T> body) {
    try (TensorScope scope = open()) {
      return scope.keep(body.get());
    }
  }

  static void adopt(AbstractTensor tensor) {
    TensorScope scope = STACK.get().peek();
    if (scope != null) {
      scope.owned.add(tensor);
      tensor.scope = scope;
    }
  }

  void forget(AbstractTensor tensor) {
    owned.remove(tensor);
  }

  /**
   * Moves {@code tensor} from this scope into the enclosing one, so that it survives this scope's
   * close. With no enclosing scope the caller becomes its owner. A tensor this scope does not own
   * is left where it is.
   */
  public <T extends Tensor> T keep(T tensor) {
    if (tensor instanceof AbstractTensor t && t.scope == this) {
      t.scope.owned.remove(t);
      t.scope = null;
      if (parent != null && !parent.closed) {
        parent.owned.add(t);
        t.scope = parent;
      }
    }
    return tensor;
  }

  /** Takes {@code tensor} out of whatever scope owns it: the caller must close it. */
  public static <T extends Tensor> T detach(T tensor) {
    if (tensor instanceof AbstractTensor t && t.scope != null) {
      t.scope.owned.remove(t);
      t.scope = null;
    }
    return tensor;
  }

  /**
   * Gives {@code tensor}, which no scope owns (created with none open, or {@linkplain #detach
   * detached}), to the innermost open scope of this thread, if any: the reverse of {@link #detach},
   * for a result handed over without a copy.
   */
  public static <T extends Tensor> T attach(T tensor) {
    if (tensor instanceof AbstractTensor t && t.scope == null && !t.isClosed()) {
      adopt(t);
    }
    return tensor;
  }

  /**
   * Takes every tensor this scope owns out of it and hands them to the caller, who must close them:
   * for results that outlive the scope without belonging to the enclosing one (a recorded segment
   * of a tape kept for a later backward sweep).
   */
  public List<Tensor> detachAll() {
    List<Tensor> out = new ArrayList<>(owned);
    for (AbstractTensor t : owned) {
      t.scope = null;
    }
    owned.clear();
    return out;
  }

  /** Number of open tensors that this scope owns. */
  public int size() {
    return owned.size();
  }

  /** Closes every tensor this scope still owns and pops it from the thread's scope stack. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    if (Thread.currentThread() != thread) {
      throw new IllegalStateException(
          "TensorScope opened on thread " + thread.getName() + " closed on another thread");
    }
    ArrayDeque<TensorScope> stack = STACK.get();
    if (stack.contains(this)) {
      // Closing an outer scope first also closes the inner ones still open (exception paths).
      TensorScope top;
      while ((top = stack.pop()) != this) {
        top.closeOwned();
      }
    }
    closeOwned();
  }

  private void closeOwned() {
    closed = true;
    AbstractTensor[] toClose = owned.toArray(new AbstractTensor[0]);
    owned.clear();
    for (AbstractTensor t : toClose) {
      t.scope = null;
      t.close();
    }
  }
}
