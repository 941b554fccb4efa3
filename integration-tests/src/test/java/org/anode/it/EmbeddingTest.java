package org.anode.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.anode.api.Backend;
import org.anode.api.Backends;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.backend.djl.DjlTensors;
import org.anode.backend.tensorflow.TfTensors;
import org.anode.nn.Conv2d;
import org.anode.nn.ParameterFactory;
import org.anode.nn.ReLU;
import org.anode.nn.Sequential;
import org.anode.ode.CheckpointedGradient;
import org.anode.ode.GradientMethod;
import org.anode.ode.OdeBlock;
import org.anode.ode.RungeKutta4;
import org.anode.ode.Stepping;
import org.anode.ode.StoreAllGradient;
import org.anode.ode.VectorField;
import org.junit.jupiter.api.Test;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/** The README's examples: an ODE block inside an existing DJL or TensorFlow Java program. */
class EmbeddingTest {

  static OdeBlock odeBlock(Backend be) {
    return odeBlock(be, new CheckpointedGradient());
  }

  /** The README's block (same seed, same weights) with the gradient method {@code method}. */
  static OdeBlock odeBlock(Backend be, GradientMethod method) {
    ParameterFactory init = new ParameterFactory(be, DType.FLOAT32, 42);
    VectorField f =
        VectorField.autonomous(
            new Sequential(new Conv2d(init, 8, 8, 3, Conv2dSpec.of(1, 1), false), new ReLU()));
    return new OdeBlock(f, new RungeKutta4(), 0, 1, Stepping.fixed(4), method);
  }

  /**
   * The embedded block's gradients — of the images given as the host framework's array, and of
   * every parameter — equal those of a store-all block with the same weights on a copy of the
   * images in anode's own tensors, to float32 round-off (ANODE recomputes the same operations).
   */
  static void gradientsAsStoreAll(
      Backend be, OdeBlock embedded, float[] images, float[] imageGrad) {
    try (OdeBlock reference = odeBlock(be, new StoreAllGradient());
        TensorScope scope = TensorScope.open();
        Tape tape = Tape.record()) {
      Variable z = Variable.leaf(be.fromArray(images, org.anode.api.Shape.of(4, 8, 6, 6)));
      tape.backward(Ops.sum(reference.forward(z), false));
      assertClose("the images' gradient", z.grad().toFloatArray(), imageGrad);
      var mine = embedded.parameters();
      var theirs = reference.parameters();
      assertEquals(theirs.keySet(), mine.keySet());
      for (String name : theirs.keySet()) {
        assertClose(
            name + "'s gradient",
            theirs.get(name).grad().toFloatArray(),
            mine.get(name).grad().toFloatArray());
      }
    }
  }

  private static void assertClose(String what, float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length, what);
    double scale = 0;
    double worst = 0;
    for (int i = 0; i < expected.length; i++) {
      scale = Math.max(scale, Math.abs(expected[i]));
      worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
    }
    assertTrue(scale > 0, what + " is all zeros");
    assertTrue(worst <= 1e-5 * scale, what + ": max error " + worst + " of max " + scale);
  }

  @Test
  void odeBlockInsideADjlProgram() {
    try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
      NDArray images = manager.randomUniform(-1, 1, new ai.djl.ndarray.types.Shape(4, 8, 6, 6));
      OdeBlock block = odeBlock(Backends.get("djl"));
      NDArray result;
      NDArray imageGrad;
      try (TensorScope scope = TensorScope.open();
          Tape tape = Tape.record()) {
        Variable z = Variable.leaf(DjlTensors.wrap(images)); // no copy
        Variable out = block.forward(z);
        tape.backward(Ops.sum(out, false));
        result = DjlTensors.unwrap(out.value(), manager); // back to DJL, no copy
        imageGrad = DjlTensors.unwrap(z.grad(), manager);
      }
      // The arrays outlive anode's scope; the gradients are store-all's.
      assertEquals(new ai.djl.ndarray.types.Shape(4, 8, 6, 6), result.getShape());
      assertEquals(images.getShape(), imageGrad.getShape());
      gradientsAsStoreAll(
          Backends.get("djl"), block, images.toFloatArray(), imageGrad.toFloatArray());
      // Same numbers as the block on a copy of the data.
      try (TensorScope scope = TensorScope.open()) {
        Backend be = Backends.get("djl");
        Tensor copy = be.fromArray(images.toFloatArray(), org.anode.api.Shape.of(4, 8, 6, 6));
        assertArrayEquals(
            block.forward(Variable.constant(copy)).value().toFloatArray(),
            result.toFloatArray(),
            1e-6f);
      }
      // Shared storage: a change to the DJL array is seen by a wrapped tensor.
      try (TensorScope scope = TensorScope.open()) {
        Tensor wrapped = DjlTensors.wrap(images);
        images.addi(1f);
        assertEquals(images.toFloatArray()[0], wrapped.toFloatArray()[0]);
      }
      block.close();
    }
  }

  @Test
  void odeBlockInsideATensorFlowProgram() {
    float[] data = new float[4 * 8 * 6 * 6];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) Math.sin(i);
    }
    OdeBlock block = odeBlock(Backends.get("tensorflow"));
    try (TFloat32 images =
        TFloat32.tensorOf(
            org.tensorflow.ndarray.Shape.of(4, 8, 6, 6), DataBuffers.of(data, true, false))) {
      TFloat32 result;
      float[] imageGrad;
      try (TensorScope scope = TensorScope.open();
          Tape tape = Tape.record()) {
        Variable z = Variable.leaf(TfTensors.wrap(images)); // no copy; we keep ownership
        Variable out = block.forward(z);
        tape.backward(Ops.sum(out, false));
        result = (TFloat32) TfTensors.unwrap(out.value()); // ours to close now
        imageGrad = z.grad().toFloatArray();
      }
      gradientsAsStoreAll(Backends.get("tensorflow"), block, data, imageGrad);
      try (result) {
        assertEquals(org.tensorflow.ndarray.Shape.of(4, 8, 6, 6), result.shape());
        try (TensorScope scope = TensorScope.open()) {
          Backend be = Backends.get("tensorflow");
          float[] expected =
              block
                  .forward(
                      Variable.constant(be.fromArray(data, org.anode.api.Shape.of(4, 8, 6, 6))))
                  .value()
                  .toFloatArray();
          float[] got = new float[data.length];
          result.copyTo(DataBuffers.of(got, false, false));
          assertArrayEquals(expected, got, 1e-6f);
        }
      }
      assertEquals(data[5], images.getFloat(0, 0, 0, 5)); // still open: anode did not close it
    }
    block.close();
  }
}
