package org.anode.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by {@code train} and {@code eval}: what model, which data, which backend. */
public final class ModelOptions {
  @Option(
      names = "--model",
      defaultValue = "resnet",
      description = "resnet or sqnxt (default: ${DEFAULT-VALUE})")
  String model;

  @Option(
      names = "--dataset",
      defaultValue = "cifar10",
      description = "cifar10 or cifar100 (default: ${DEFAULT-VALUE})")
  String dataset;

  @Option(
      names = "--data",
      defaultValue = "data",
      description =
          "Folder or archive with the CIFAR binary version, or an image-folder archive (<split>/<class>/*.jpg); downloaded into the folder when missing (default: ${DEFAULT-VALUE})")
  Path data;

  @Option(
      names = "--method",
      defaultValue = "anode",
      description = "anode, store-all, revolve:S or adjoint (default: ${DEFAULT-VALUE})")
  String method;

  @Option(
      names = "--solver",
      defaultValue = "euler",
      description = "euler, rk2, heun, rk4 or dopri5 (default: ${DEFAULT-VALUE})")
  String solver;

  @Option(
      names = "--nt",
      defaultValue = "2",
      description = "Solver steps per ODE block, N_t (default: ${DEFAULT-VALUE})")
  int nt;

  @Option(
      names = "--width",
      defaultValue = "1.0",
      description = "Channel width multiplier (default: ${DEFAULT-VALUE})")
  double width;

  @Option(
      names = "--depths",
      defaultValue = "1,1,1,1",
      description = "ODE blocks per stage (default: ${DEFAULT-VALUE})")
  String depths;

  @Option(
      names = "--backend",
      description = "nd4j, tensorflow or djl (default: the best-ranked one found)")
  String backend;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "Kernel threads (default: the library's)")
  int threads;

  @Option(
      names = "--test-limit",
      defaultValue = "0",
      description = "Evaluate on a seeded, class-balanced sample of N test images (default: all)")
  int testLimit;

  @Option(
      names = "--batch",
      defaultValue = "128",
      description = "Batch size (default: ${DEFAULT-VALUE})")
  int batch;

  @Option(
      names = "--seed",
      defaultValue = "1",
      description = "Seed of weights, sampling, order and augmentation (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--float64", description = "Train in float64 instead of float32")
  boolean float64;
}
