/**
 * The images everything here takes: 32×32 RGB (CIFAR's). One definition for the data layer, which
 * stores them, and the method, which checks and augments them (siblings that may not import each other).
 */
export const IMAGE_SIZE = 32;
export const IMAGE_CHANNELS = 3;
