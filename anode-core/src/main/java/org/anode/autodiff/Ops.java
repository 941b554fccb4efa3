package org.anode.autodiff;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Checks;
import org.anode.api.Conv2dSpec;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;

/**
 * Differentiable operations on {@link Variable}s. Each runs one backend kernel forward and, when a
 * {@link Tape} records and some input requires a gradient, records its vector–Jacobian product
 * together with exactly the tensors that product reads (what the {@link MemoryMeter} counts). Saved
 * tensors are chosen to keep memory low: ReLU, tanh, exp, sqrt and log-softmax keep their output,
 * add and the scalar ops keep nothing.
 */
public final class Ops {
  private static final Tensor[] NONE = new Tensor[0];

  private Ops() {}

  private static Variable record(
      Tensor out, Variable[] inputs, Tensor[] saved, BackwardFunction backward) {
    Tape tape = Tape.current();
    boolean needs = false;
    for (Variable v : inputs) {
      needs |= v.requiresGrad();
    }
    if (tape == null || !needs) {
      return Variable.constant(out);
    }
    Variable result = Variable.result(out, true);
    tape.add(result, inputs, saved, backward);
    return result;
  }

  /**
   * Records a user-defined differentiable function, in the manner of PyTorch's {@code
   * autograd.Function}: {@code output} was computed from {@code inputs} outside the tape, {@code
   * saved} lists the tensors its backward reads (counted by the meter), and {@code backward} maps
   * the output's gradient to the inputs' gradients. A backward may also accumulate gradients into
   * leaves directly (as ODE gradient methods do for parameters) and return null for them.
   */
  public static Variable function(
      Tensor output, Variable[] inputs, Tensor[] saved, BackwardFunction backward) {
    return record(output, inputs, saved, backward);
  }

  /** {@code Σ_i c_i · x_i}, skipping zero coefficients (at least one must be non-zero). */
  public static Variable linearCombination(double[] coefficients, Variable[] terms) {
    Variable sum = null;
    for (int i = 0; i < coefficients.length; i++) {
      if (coefficients[i] == 0) {
        continue;
      }
      Variable term = coefficients[i] == 1 ? terms[i] : mulScalar(terms[i], coefficients[i]);
      sum = sum == null ? term : add(sum, term);
    }
    if (sum == null) {
      throw new IllegalArgumentException("linearCombination: every coefficient is zero");
    }
    return sum;
  }

  /**
   * {@code base + Σ cᵢ·termsᵢ} as one operation (a solver step's update, by the backend's fused
   * {@link Backend#addScaled}): no scaled temporaries in the forward pass, nothing saved, and its
   * backward hands {@code g} to the base and {@code cᵢ·g} to each term.
   */
  public static Variable addScaled(Variable base, double[] coefficients, Variable[] terms) {
    Backend be = base.backend();
    List<Tensor> values = new ArrayList<>(terms.length);
    for (Variable t : terms) {
      values.add(t.value());
    }
    Tensor out = be.addScaled(base.value(), coefficients, values);
    Variable[] inputs = new Variable[terms.length + 1];
    inputs[0] = base;
    System.arraycopy(terms, 0, inputs, 1, terms.length);
    double[] c = coefficients.clone();
    return record(
        out,
        inputs,
        NONE,
        (g, n) -> {
          Tensor[] grads = new Tensor[inputs.length];
          grads[0] = n[0] ? g : null;
          for (int i = 0; i < c.length; i++) {
            if (n[i + 1] && c[i] != 0) {
              grads[i + 1] = c[i] == 1 ? g : be.mulScalar(g, c[i]);
            }
          }
          return grads;
        });
  }

  private static Variable[] in(Variable... v) {
    return v;
  }

  /** Sums {@code g} over the axes along which an operand of shape {@code target} was broadcast. */
  static Tensor unbroadcast(Tensor g, Shape target) {
    Shape s = g.shape();
    if (s.equals(target)) {
      return g;
    }
    Backend b = g.backend();
    if (target.rank() == 0) {
      return b.sum(g, false);
    }
    List<Integer> axes = new ArrayList<>();
    for (int i = 0; i < target.rank(); i++) {
      if (target.dim(i) == 1 && s.dim(i) != 1) {
        axes.add(i);
      }
    }
    return b.sum(g, true, axes.stream().mapToInt(Integer::intValue).toArray());
  }

  // ---- elementwise ----------------------------------------------------------------------------

  public static Variable add(Variable a, Variable b) {
    Shape sa = a.shape();
    Shape sb = b.shape();
    Tensor out = a.backend().add(a.value(), b.value());
    return record(
        out,
        in(a, b),
        NONE,
        (g, n) ->
            new Tensor[] {n[0] ? unbroadcast(g, sa) : null, n[1] ? unbroadcast(g, sb) : null});
  }

  public static Variable sub(Variable a, Variable b) {
    Shape sa = a.shape();
    Shape sb = b.shape();
    Tensor out = a.backend().sub(a.value(), b.value());
    return record(
        out,
        in(a, b),
        NONE,
        (g, n) ->
            new Tensor[] {
              n[0] ? unbroadcast(g, sa) : null, n[1] ? unbroadcast(g.backend().neg(g), sb) : null
            });
  }

  public static Variable mul(Variable a, Variable b) {
    Tensor x = a.value();
    Tensor y = b.value();
    Backend be = a.backend();
    Tensor out = be.mul(x, y);
    return record(
        out,
        in(a, b),
        new Tensor[] {x, y},
        (g, n) ->
            new Tensor[] {
              n[0] ? unbroadcast(be.mul(g, y), x.shape()) : null,
              n[1] ? unbroadcast(be.mul(g, x), y.shape()) : null
            });
  }

  public static Variable div(Variable a, Variable b) {
    Tensor x = a.value();
    Tensor y = b.value();
    Backend be = a.backend();
    Tensor out = be.div(x, y);
    return record(
        out,
        in(a, b),
        new Tensor[] {x, y},
        (g, n) ->
            new Tensor[] {
              n[0] ? unbroadcast(be.div(g, y), x.shape()) : null,
              n[1] ? unbroadcast(be.neg(be.div(be.mul(g, x), be.square(y))), y.shape()) : null
            });
  }

  public static Variable addScalar(Variable x, double s) {
    return record(x.backend().addScalar(x.value(), s), in(x), NONE, (g, n) -> new Tensor[] {g});
  }

  public static Variable mulScalar(Variable x, double s) {
    Backend be = x.backend();
    return record(
        be.mulScalar(x.value(), s), in(x), NONE, (g, n) -> new Tensor[] {be.mulScalar(g, s)});
  }

  public static Variable powScalar(Variable x, double p) {
    Backend be = x.backend();
    Tensor v = x.value();
    return record(
        be.powScalar(v, p),
        in(x),
        new Tensor[] {v},
        (g, n) -> new Tensor[] {be.mul(g, be.mulScalar(be.powScalar(v, p - 1), p))});
  }

  public static Variable neg(Variable x) {
    Backend be = x.backend();
    return record(be.neg(x.value()), in(x), NONE, (g, n) -> new Tensor[] {be.neg(g)});
  }

  public static Variable exp(Variable x) {
    Backend be = x.backend();
    Tensor y = be.exp(x.value());
    return record(y, in(x), new Tensor[] {y}, (g, n) -> new Tensor[] {be.mul(g, y)});
  }

  public static Variable log(Variable x) {
    Backend be = x.backend();
    Tensor v = x.value();
    return record(be.log(v), in(x), new Tensor[] {v}, (g, n) -> new Tensor[] {be.div(g, v)});
  }

  public static Variable sqrt(Variable x) {
    Backend be = x.backend();
    Tensor y = be.sqrt(x.value());
    return record(
        y, in(x), new Tensor[] {y}, (g, n) -> new Tensor[] {be.div(be.mulScalar(g, 0.5), y)});
  }

  public static Variable square(Variable x) {
    Backend be = x.backend();
    Tensor v = x.value();
    return record(
        be.square(v),
        in(x),
        new Tensor[] {v},
        (g, n) -> new Tensor[] {be.mul(g, be.mulScalar(v, 2.0))});
  }

  /** {@code max(x, 0)}; the gradient at 0 is taken as 0, as in PyTorch. */
  public static Variable relu(Variable x) {
    Backend be = x.backend();
    Tensor y = be.relu(x.value());
    return record(
        y,
        in(x),
        new Tensor[] {y},
        (g, n) -> {
          return new Tensor[] {be.reluBackward(y, g)};
        });
  }

  public static Variable tanh(Variable x) {
    Backend be = x.backend();
    Tensor y = be.tanh(x.value());
    return record(
        y,
        in(x),
        new Tensor[] {y},
        (g, n) -> new Tensor[] {be.mul(g, be.addScalar(be.neg(be.square(y)), 1.0))});
  }

  /** {@code mask != 0 ? a : b}; no gradient flows to the mask. */
  public static Variable where(Tensor mask, Variable a, Variable b) {
    Backend be = a.backend();
    Shape sa = a.shape();
    Shape sb = b.shape();
    Tensor out = be.where(mask, a.value(), b.value());
    return record(
        out,
        in(a, b),
        new Tensor[] {mask},
        (g, n) -> {
          Tensor zero = be.scalar(0.0, g.dtype());
          return new Tensor[] {
            n[0] ? unbroadcast(be.where(mask, g, zero), sa) : null,
            n[1] ? unbroadcast(be.where(mask, zero, g), sb) : null
          };
        });
  }

  public static Variable broadcastTo(Variable x, Shape shape) {
    Shape s = x.shape();
    return record(
        x.backend().broadcastTo(x.value(), shape),
        in(x),
        NONE,
        (g, n) -> new Tensor[] {unbroadcast(g, s)});
  }

  // ---- reductions -----------------------------------------------------------------------------

  /** Sum over {@code axes} (all when none are given). */
  public static Variable sum(Variable x, boolean keepDims, int... axes) {
    Backend be = x.backend();
    Shape s = x.shape();
    int[] ax = Checks.axes("sum", s, axes);
    Shape kept = Checks.reducedShape(s, ax, true);
    return record(
        be.sum(x.value(), keepDims, ax),
        in(x),
        NONE,
        (g, n) -> new Tensor[] {be.broadcastTo(be.reshape(g, kept), s)});
  }

  /** Mean over {@code axes} (all when none are given). */
  public static Variable mean(Variable x, boolean keepDims, int... axes) {
    Backend be = x.backend();
    Shape s = x.shape();
    int[] ax = Checks.axes("mean", s, axes);
    Shape kept = Checks.reducedShape(s, ax, true);
    double count = (double) s.numel() / kept.numel();
    return record(
        be.mean(x.value(), keepDims, ax),
        in(x),
        NONE,
        (g, n) -> new Tensor[] {be.broadcastTo(be.reshape(be.mulScalar(g, 1.0 / count), kept), s)});
  }

  /** Maximum over {@code axes}; ties share the gradient equally. */
  public static Variable max(Variable x, boolean keepDims, int... axes) {
    Backend be = x.backend();
    Tensor v = x.value();
    Shape s = x.shape();
    int[] ax = Checks.axes("max", s, axes);
    Shape kept = Checks.reducedShape(s, ax, true);
    Tensor m = be.max(v, keepDims, ax);
    return record(
        m,
        in(x),
        new Tensor[] {v, m},
        (g, n) -> {
          Tensor mk = be.reshape(m, kept);
          // x <= max everywhere, so "not (max > x)" marks the maxima.
          Tensor isMax = be.addScalar(be.neg(be.greaterThan(mk, v)), 1.0);
          Tensor count = be.sum(isMax, true, ax);
          return new Tensor[] {be.mul(isMax, be.div(be.reshape(g, kept), count))};
        });
  }

  // ---- layout ---------------------------------------------------------------------------------

  public static Variable reshape(Variable x, Shape shape) {
    Backend be = x.backend();
    Shape s = x.shape();
    return record(
        be.reshape(x.value(), shape), in(x), NONE, (g, n) -> new Tensor[] {be.reshape(g, s)});
  }

  /** Flattens every axis after the first: {@code [N, ...] → [N, rest]}. */
  public static Variable flatten(Variable x) {
    Shape s = x.shape();
    return reshape(x, Shape.of(s.dim(0), (int) (s.numel() / s.dim(0))));
  }

  public static Variable permute(Variable x, int... axes) {
    Backend be = x.backend();
    int[] inverse = new int[axes.length];
    for (int i = 0; i < axes.length; i++) {
      inverse[axes[i]] = i;
    }
    return record(
        be.permute(x.value(), axes), in(x), NONE, (g, n) -> new Tensor[] {be.permute(g, inverse)});
  }

  public static Variable concat(List<Variable> parts, int axis) {
    Backend be = parts.get(0).backend();
    List<Tensor> values = new ArrayList<>();
    int[] sizes = new int[parts.size()];
    for (int i = 0; i < sizes.length; i++) {
      values.add(parts.get(i).value());
    }
    Tensor out = be.concat(values, axis);
    int ax = out.shape().normalizeAxis(axis);
    for (int i = 0; i < sizes.length; i++) {
      sizes[i] = values.get(i).shape().dim(ax);
    }
    return record(
        out,
        parts.toArray(new Variable[0]),
        NONE,
        (g, n) -> {
          Tensor[] gs = new Tensor[sizes.length];
          for (int i = 0, start = 0; i < sizes.length; start += sizes[i], i++) {
            gs[i] = n[i] ? be.slice(g, ax, start, start + sizes[i]) : null;
          }
          return gs;
        });
  }

  public static Variable slice(Variable x, int axis, int start, int end) {
    Backend be = x.backend();
    Shape s = x.shape();
    int ax = s.normalizeAxis(axis);
    return record(
        be.slice(x.value(), ax, start, end),
        in(x),
        NONE,
        (g, n) -> {
          List<Tensor> pieces = new ArrayList<>(3);
          if (start > 0) {
            pieces.add(be.zeros(s.with(ax, start), g.dtype()));
          }
          pieces.add(g);
          if (end < s.dim(ax)) {
            pieces.add(be.zeros(s.with(ax, s.dim(ax) - end), g.dtype()));
          }
          return new Tensor[] {pieces.size() == 1 ? g : be.concat(pieces, ax)};
        });
  }

  // ---- linear algebra and convolution ---------------------------------------------------------

  /** {@code [m,k] × [k,n]}. */
  public static Variable matmul(Variable a, Variable b) {
    Backend be = a.backend();
    Tensor x = a.value();
    Tensor y = b.value();
    return record(
        be.matmul(x, y),
        in(a, b),
        new Tensor[] {x, y},
        (g, n) ->
            new Tensor[] {
              n[0] ? be.matmul(g, be.permute(y, 1, 0)) : null,
              n[1] ? be.matmul(be.permute(x, 1, 0), g) : null
            });
  }

  /** 2-D convolution; {@code bias} may be null. Both gradients come from native kernels. */
  public static Variable conv2d(Variable x, Variable w, Variable bias, Conv2dSpec spec) {
    Backend be = x.backend();
    Tensor xv = x.value();
    Tensor wv = w.value();
    Tensor out = be.conv2d(xv, wv, bias == null ? null : bias.value(), spec);
    Variable[] inputs = bias == null ? in(x, w) : in(x, w, bias);
    return record(
        out, inputs, new Tensor[] {xv, wv}, (g, n) -> convolutionGradients(be, xv, wv, g, spec, n));
  }

  /**
   * The gradients of a convolution's input, weight and (when {@code needs} has three entries) bias
   * from its output's gradient {@code g}: the weight and input from the native kernel, the bias as
   * {@code g} summed over N, H and W.
   */
  private static Tensor[] convolutionGradients(
      Backend be, Tensor x, Tensor w, Tensor g, Conv2dSpec spec, boolean[] needs) {
    Backend.Conv2dGradients cg = be.conv2dBackward(x, w, g, spec, needs[0], needs[1]);
    Tensor[] r = new Tensor[needs.length];
    r[0] = cg.input();
    r[1] = cg.weight();
    if (needs.length == 3 && needs[2]) {
      r[2] = be.sum(g, false, 0, 2, 3);
    }
    return r;
  }

  /**
   * {@code relu(conv2d(x, w, bias))} as one node ({@link Backend#conv2dRelu}): it saves the input,
   * the weight and its output, not the pre-activation. Backward: ReLU's gradient from the output
   * ({@code g} where the output is positive), then the convolution's gradients from it — the same
   * kernels in the same order as {@link #relu} after {@link #conv2d}, so the same numbers.
   */
  public static Variable conv2dRelu(Variable x, Variable w, Variable bias, Conv2dSpec spec) {
    Backend be = x.backend();
    Tensor xv = x.value();
    Tensor wv = w.value();
    Tensor out = be.conv2dRelu(xv, wv, bias == null ? null : bias.value(), spec);
    Variable[] inputs = bias == null ? in(x, w) : in(x, w, bias);
    return record(
        out,
        inputs,
        new Tensor[] {xv, wv, out},
        (g, n) -> {
          try (Tensor ga = be.reluBackward(out, g)) {
            // As in the composition, where ReLU's node ends here: the incoming gradient and the
            // output are not read again, so they need not live through the convolution's backward.
            Tape.lastRead(g);
            Tape.lastRead(out);
            return convolutionGradients(be, xv, wv, ga, spec, n);
          }
        });
  }

  /** What {@link #batchNorm} returns: the output, and the batch's statistics ({@code [C]}). */
  public record Normalized(Variable output, Tensor mean, Tensor variance) {}

  /**
   * Batch normalization in training mode ({@link Backend#batchNorm}) as one node: it saves the
   * input, γ and the batch's mean and variance; its backward is {@link Backend#batchNormBackward}.
   */
  public static Normalized batchNorm(Variable x, Variable gamma, Variable beta, double eps) {
    Backend be = x.backend();
    Tensor xv = x.value();
    Tensor gv = gamma.value();
    Backend.BatchNormResult r = be.batchNorm(xv, gv, beta.value(), eps);
    Tensor mean = r.mean();
    Tensor variance = r.variance();
    Variable y =
        record(
            r.output(),
            in(x, gamma, beta),
            new Tensor[] {xv, gv, mean, variance},
            (g, n) -> {
              Backend.BatchNormGradients bg =
                  be.batchNormBackward(xv, gv, mean, variance, eps, g, n[0], n[1], n[2]);
              return new Tensor[] {bg.input(), bg.gamma(), bg.beta()};
            });
    return new Normalized(y, mean, variance);
  }

  public static Variable avgPool2d(Variable x, Pool2dSpec spec) {
    Backend be = x.backend();
    Shape s = x.shape();
    return record(
        be.avgPool2d(x.value(), spec),
        in(x),
        NONE,
        (g, n) -> new Tensor[] {be.avgPool2dBackward(g, s, spec)});
  }

  /** {@code [N,C,H,W] → [N,C,1,1]}. */
  public static Variable globalAvgPool(Variable x) {
    Backend be = x.backend();
    Shape s = x.shape();
    return record(
        be.globalAvgPool(x.value()),
        in(x),
        NONE,
        (g, n) -> new Tensor[] {be.globalAvgPoolBackward(g, s)});
  }

  /** {@code log(softmax(x))} along {@code axis}. */
  public static Variable logSoftmax(Variable x, int axis) {
    Backend be = x.backend();
    Tensor y = be.logSoftmax(x.value(), axis);
    int ax = y.shape().normalizeAxis(axis);
    return record(
        y,
        in(x),
        new Tensor[] {y},
        (g, n) -> new Tensor[] {be.sub(g, be.mul(be.exp(y), be.sum(g, true, ax)))});
  }
}
