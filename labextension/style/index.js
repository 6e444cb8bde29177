import './base.css';
import './selection.css';
import './compare.css';
import './runlist.css';
import './groups.css';
import './models.css';
import './sweeps.css';
import './datasets.css';
