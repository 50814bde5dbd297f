import { runMain } from '../cli/runMain';
import { benchNodeCommand } from './node';

runMain(benchNodeCommand);
