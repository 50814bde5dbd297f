import { runMain } from '../util/runMain';
import { benchNodeCommand } from './node';

runMain(benchNodeCommand);
