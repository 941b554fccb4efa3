package org.anode.backend.tensorflow;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What makes two compiled kernels the same graph: the op, its attributes, the placeholders' types
 * and shapes — and every value the graph builder captured. A builder is a lambda; whatever it reads
 * besides its inputs (a convolution's spec, a permutation, a shape) is a captured field of it, and
 * those values are part of the key, compared by value. So a kernel whose attribute string forgot an
 * attribute cannot silently reuse the graph built for another value of it.
 */
record KernelKey(
    String op, String attributes, List<TfKernel.Input> signature, List<Object> captured) {

  private static final Map<Class<?>, Field[]> FIELDS = new ConcurrentHashMap<>();

  static KernelKey of(
      String op, String attributes, List<TfKernel.Input> signature, Object builder) {
    List<Object> captured = new ArrayList<>();
    captures(builder, captured, 0);
    return new KernelKey(op, attributes, List.copyOf(signature), captured);
  }

  /** Appends the values {@code lambda} captured, and those of lambdas it captured, by value. */
  private static void captures(Object lambda, List<Object> out, int depth) {
    if (depth > 8) {
      throw new IllegalStateException("KernelKey: builders nested too deep");
    }
    out.add(lambda.getClass().getName().replaceAll("\\$\\$Lambda.*", "") + "#");
    for (Field f : fields(lambda.getClass())) {
      Object v;
      try {
        v = f.get(lambda);
      } catch (IllegalAccessException e) {
        throw new IllegalStateException("KernelKey: cannot read what a kernel builder captured", e);
      }
      if (v != null && isLambda(v.getClass())) {
        out.add(v.getClass());
        captures(v, out, depth + 1);
      } else {
        out.add(byValue(v));
      }
    }
  }

  private static boolean isLambda(Class<?> c) {
    return c.isSynthetic() || c.isHidden();
  }

  private static Field[] fields(Class<?> c) {
    return FIELDS.computeIfAbsent(
        c,
        k -> {
          Field[] fs = k.getDeclaredFields();
          for (Field f : fs) {
            f.setAccessible(true);
          }
          return fs;
        });
  }

  /** Arrays compared by their elements; everything else by its own {@code equals}. */
  private static Object byValue(Object v) {
    if (v instanceof int[] a) {
      return Arrays.stream(a).boxed().toList();
    }
    if (v instanceof long[] a) {
      return Arrays.stream(a).boxed().toList();
    }
    if (v instanceof double[] a) {
      return Arrays.stream(a).boxed().toList();
    }
    if (v instanceof Object[] a) {
      return Arrays.asList(a);
    }
    return v;
  }
}
