package org.anode.cli;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.name.Names;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.TensorScope;
import org.anode.data.DataLoader;
import org.anode.data.ImageDataset;
import org.anode.nn.Module;
import org.anode.train.Checkpoint;
import org.anode.train.Evaluation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code anode eval}: test loss and accuracy of a checkpoint. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description = "Evaluate a checkpoint on the test set.")
public final class EvalCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(
      names = "--checkpoint",
      defaultValue = "anode-run.ckpt",
      description = "Checkpoint to evaluate (default: ${DEFAULT-VALUE})")
  Path checkpoint;

  @Override
  public Integer call() throws Exception {
    RunConfig config = model.config(null);
    Injector injector = Guice.createInjector(new TrainingModule(config));
    Backend be = injector.getInstance(Backend.class);
    Module net = injector.getInstance(Module.class);
    try (TensorScope scope = TensorScope.open()) {
      Checkpoint c = Checkpoint.load(checkpoint, be);
      String mismatch = c.identityMismatch(config.describe(), "this evaluation");
      if (mismatch != null) {
        throw new IllegalArgumentException(checkpoint + " " + mismatch);
      }
      net.loadStateDict(c.model());
    }
    DataLoader testLoader = injector.getInstance(Key.get(DataLoader.class, Names.named("test")));
    ImageDataset test = testLoader.data();
    double[] r = Evaluation.run(be, net, injector.getInstance(DType.class), testLoader);
    System.out.printf(
        "test loss %.4f, test accuracy %.2f%% on %,d images%n", r[0], 100 * r[1], test.size());
    if (!Double.isFinite(r[0])) {
      System.err.println(
          "anode: the test loss of " + checkpoint + " is " + r[0] + ": the model is not usable");
      return 3;
    }
    return 0;
  }
}
