/** The values the setup form offers (and a shared link may carry). */
export const BATCH_SIZES = [8, 16, 32, 64, 128, 256, 512];
export const DATASET_SIZES = [1000, 2000, 5000, 10000];
export const STEP_BUDGETS = [0, 100, 500, 1000, 5000, 20000, 100000];
