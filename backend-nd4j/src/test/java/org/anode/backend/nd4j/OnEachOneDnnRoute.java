package org.anode.backend.nd4j;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A test run once per oneDNN route ({@link ConvolutionRoute#ONEDNN_BLOCKED16}, {@link
 * ConvolutionRoute#ONEDNN_BLOCKED8}), given as its {@link ConvolutionRoute} parameter.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@ParameterizedTest
@EnumSource(
    value = ConvolutionRoute.class,
    names = {"ONEDNN_BLOCKED16", "ONEDNN_BLOCKED8"})
@interface OnEachOneDnnRoute {}
